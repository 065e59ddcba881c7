"""Oracles: where the ground-truth label of a (prompt, completion) pair comes from.

:class:`Oracle` labels pairs (``None`` = cannot say); :class:`ExactOracle` also knows exact injury
probabilities. Implementations: :class:`TableOracle` (labelled rows keyed by prompt id and
completion) here, and StoryWorld's exact oracle, ``StoryWorld.oracle()``
(:class:`nines.storyworld.StoryWorldOracle`).
"""

from nines.oracle.base import ExactOracle, Oracle, label_all
from nines.oracle.table import TableOracle

__all__ = ["ExactOracle", "Oracle", "TableOracle", "label_all"]
