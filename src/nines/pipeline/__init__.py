"""Old home of the end-to-end runs; they are recipes now (:mod:`nines.recipes`). Kept so old imports work."""
