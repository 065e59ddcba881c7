"""Active learning: choose which snippets to label next.

:mod:`nines.active.strategies` holds pure selection rules over score arrays (any classifier);
:mod:`nines.active.loop` runs select-label-refit rounds; :mod:`nines.active.hashing` is a cheap
hashed n-gram logistic regression (needs scikit-learn) for benchmarks that refit every round.
"""

from nines.active.loop import ActiveLearningLoop, RoundRecord
from nines.active.strategies import STRATEGIES, select

__all__ = ["STRATEGIES", "ActiveLearningLoop", "RoundRecord", "select"]
