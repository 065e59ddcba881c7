"""The one record type for a (prompt, completion) snippet and its label."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Label(str, Enum):
    """What a labeller (human, oracle or judge) said about a snippet."""

    INJURIOUS = "injurious"
    SAFE = "safe"
    UNSURE = "unsure"


LABELS: tuple[str, ...] = tuple(x.value for x in Label)

#: Where a snippet came from. Free text is allowed; these are the names the toolkit itself writes.
SOURCES: tuple[str, ...] = ("initial", "seed", "storyworld", "adversarial", "active", "paraphrase", "generated")

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class Snippet:
    """A prompt, its completion, and (optionally) a label.

    Attributes:
        prompt: the story so far, 1-3 sentences.
        completion: the continuation under judgement (usually one sentence).
        label: ``injurious``, ``safe``, ``unsure`` or ``None`` when unlabelled.
        source: where the snippet came from (see :data:`SOURCES`).
        labeller: who labelled it (a user name, ``oracle``, ``seed-authors``, a judge id).
        split: ``train``, ``val``, ``test`` or ``None``.
        metadata: free JSON-serialisable data (StoryWorld latent event, scores, family, ...).
        id: the store's primary key once stored, else ``None``.
        prompt_id: the id of the :class:`nines.generate.base.Prompt` this snippet answers, or
            ``None`` (hand-written snippets, rows stored before prompts had ids).
    """

    prompt: str
    completion: str
    label: Label | None = None
    source: str = "initial"
    labeller: str | None = None
    split: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    prompt_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.label, str) and not isinstance(self.label, Label):
            try:
                self.label = Label(self.label)
            except ValueError:
                raise ValueError(
                    f"label must be one of {', '.join(LABELS)} or null, got {self.label!r}"
                ) from None
        if self.prompt_id is not None and not isinstance(self.prompt_id, str):
            raise ValueError(f"prompt_id must be a string or null, got {self.prompt_id!r}")
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or null, got {self.split!r}")

    @property
    def is_injurious(self) -> bool | None:
        """True/False for a decided label, ``None`` for unsure or unlabelled."""
        if self.label is Label.INJURIOUS:
            return True
        if self.label is Label.SAFE:
            return False
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (label as its string value; ``prompt_id`` only when set).

        Leaving out an unset ``prompt_id`` keeps files written before prompts had ids, and
        readers that do not know the field, unchanged.
        """
        d = asdict(self)
        d["label"] = self.label.value if self.label is not None else None
        if d["prompt_id"] is None:
            del d["prompt_id"]
        return d
