"""Recipes: end-to-end runs written over the library's calls, shared by the CLI verbs and the demo.

- :mod:`nines.recipes.data` - a run's labelled StoryWorld, seed-set and real-prose data;
- :mod:`nines.recipes.train` - train the classifier, record the split and fingerprints (``nines train``);
- :mod:`nines.recipes.calibrate` - temperature and threshold on clean samples of the training
  families only (``nines calibrate``);
- :mod:`nines.recipes.evaluate` - the filter against the oracle per condition, then the
  measurements (``nines evaluate``);
- :mod:`nines.recipes.demo` - all of the above in one run (``nines demo``).

A verb and the demo call the same function, so their steps cannot drift apart. The run's state
(family split, fingerprints, configs, versions) is in ``manifest.json`` (:mod:`nines.manifest`).
"""
