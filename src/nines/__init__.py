"""nines: make a language model never do one specific bad thing, and measure how many nines it got.

The package is laid out as one subpackage per stage of the loop:

- :mod:`nines.data` - the snippet record, the store (SQLite/PostgreSQL), JSONL and HF datasets I/O, the seed set.
- :mod:`nines.storyworld` - a generative model of short fiction with an exact injury oracle.
- :mod:`nines.generate` - the ``Generator`` protocol and its backends.
- :mod:`nines.classify` - training, calibrating and thresholding the injury classifier.
- :mod:`nines.filter` - rejection sampling.
- :mod:`nines.evaluate` - failure rates with exact bounds and the HTML report.
- :mod:`nines.pipeline` - the end-to-end demo.
"""

__version__ = "0.1.0"
