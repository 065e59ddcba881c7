"""What every attack returns: the failures it found and what finding them cost."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AttackFind:
    """One snippet an attack produced that the filter accepts.

    Attributes:
        prompt, completion: the adversarial snippet.
        score: the classifier's calibrated score for it (at or below the threshold).
        original_prompt, original_completion, original_score: the caught snippet it started from.
        method: which attack found it (``world``, ``greedy``, ``beam``, ``paraphrase``, ``redteam``...).
        edits: human-readable steps from the original ("swap 'stabbed'->'nicked' @ completion:3").
        queries: classifier queries spent by the attack up to and including this find.
        seconds: wall time the attack had run when it found this.
        label: ``True`` when an exact oracle confirms it injurious, ``False`` when the oracle says it
            is safe (not a real failure), ``None`` when no oracle can tell (needs human review).
        metadata: attack-specific detail (latent scene, family, ...).
        prompt_id: the id of the snippet's :class:`~nines.generate.base.Prompt` when the attack
            knows it (StoryWorld attacks: ``storyworld:<scene id>``), else ``None``.
    """

    prompt: str
    completion: str
    score: float
    original_prompt: str
    original_completion: str
    original_score: float
    method: str
    edits: list[str] = field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0
    label: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


@dataclass
class AttackReport:
    """Finds of one attack run plus its cost.

    Attributes:
        method: the attack's name.
        seeds: how many caught snippets the attack started from.
        finds: accepted snippets it produced (at most one per seed unless the attack says otherwise).
        queries: classifier queries spent in total.
        seconds: wall time in total.
        budget: query budget the run had (``None`` for none).
    """

    method: str
    seeds: int
    finds: list[AttackFind] = field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0
    budget: int | None = None

    @property
    def valid_finds(self) -> list[AttackFind]:
        """Finds an oracle confirms injurious (the real failures)."""
        return [f for f in self.finds if f.label is True]

    @property
    def unverified_finds(self) -> list[AttackFind]:
        """Finds no oracle could judge (queue them for human review)."""
        return [f for f in self.finds if f.label is None]

    def success_rate(self, valid_only: bool = True) -> float:
        """Share of seeds that yielded a (valid) find."""
        found = self.valid_finds if valid_only else self.finds
        seeds_hit = {(f.original_prompt, f.original_completion) for f in found}
        return len(seeds_hit) / self.seeds if self.seeds else 0.0

    def queries_per_success(self, valid_only: bool = True) -> float:
        """Classifier queries spent per (valid) find; ``inf`` when none was found."""
        k = len(self.valid_finds if valid_only else self.finds)
        return self.queries / k if k else float("inf")

    def seconds_per_success(self, valid_only: bool = True) -> float:
        """Wall seconds per (valid) find; ``inf`` when none was found."""
        k = len(self.valid_finds if valid_only else self.finds)
        return self.seconds / k if k else float("inf")

    def summary(self) -> dict[str, Any]:
        """Headline figures, JSON-ready."""
        return {
            "method": self.method, "seeds": self.seeds, "finds": len(self.finds),
            "valid_finds": len(self.valid_finds), "unverified_finds": len(self.unverified_finds),
            "success_rate": self.success_rate(), "success_rate_any": self.success_rate(valid_only=False),
            "queries": self.queries, "seconds": self.seconds, "budget": self.budget,
            "queries_per_valid_find": self.queries_per_success(),
            "seconds_per_valid_find": self.seconds_per_success(),
        }
