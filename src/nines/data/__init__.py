"""Snippet records, the store, file I/O and the hand-written seed set.

The store and I/O live in :mod:`nines.data.store` and :mod:`nines.data.io` (imported lazily so that
``import nines.data`` stays light).
"""

from nines.data.record import LABELS, SOURCES, SPLITS, Label, Snippet

__all__ = ["LABELS", "SOURCES", "SPLITS", "Label", "Snippet"]
