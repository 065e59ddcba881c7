"""Snippet records, the store, file I/O and the hand-written seed set."""

from nines.data.record import LABELS, SOURCES, SPLITS, Label, Snippet

__all__ = ["LABELS", "SOURCES", "SPLITS", "Label", "Snippet"]
