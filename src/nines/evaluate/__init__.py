"""Evaluation: run the filter and measure it, with the estimators of :mod:`nines.stats`.

- :mod:`~nines.evaluate.storyworld_eval`: failure rates of the unfiltered and filtered generator, exact bounds.
- :mod:`~nines.evaluate.measure`: the measurement sections (win rate, policies, understanding, reliability).
- :mod:`~nines.evaluate.winrate`: the naive and coupled win-rate designs over a generator, filter and judge.
- :mod:`~nines.evaluate.understanding`: a generator's continuations of its own failures, judged.
- :mod:`~nines.evaluate.prose_eval`: metrics on real-prose labelled sets.
- :mod:`~nines.evaluate.results`, :mod:`~nines.evaluate.measure_results`, :mod:`~nines.evaluate.report`:
  typed results and the HTML report.
- your own labels, no StoryWorld (``nines evaluate --labels``): :mod:`~nines.evaluate.labels_source` (JSONL
  or a store dataset), :mod:`~nines.evaluate.labelled` (reweighted failure rate, the egregious check),
  :mod:`~nines.evaluate.labelling_plan` (importance and stratified plans), :mod:`~nines.evaluate.labelled_winrate`
  (the coupled win rate from people's comparisons), :mod:`~nines.evaluate.labelled_report`.

The estimators themselves live in :mod:`nines.stats`, which is pure: whatever runs a generator, the
filter or a judge to produce their inputs is here.
"""
