"""TableOracle: labels looked up from labelled rows keyed by (prompt id, completion text).

The rows can be human labels (the store, an export), a past run's oracle labels, or a JSONL file of
snippets. A pair the table does not hold, or holds only ``unsure`` labels for, is ``None``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from nines.data.io import read_jsonl
from nines.data.record import Snippet
from nines.generate.base import Prompt, PromptLike, as_prompt, text_prompt_id

Key = tuple[str, str]


class TableOracle:
    """An :class:`~nines.oracle.Oracle` over a table of labelled (prompt id, completion) pairs.

    Args:
        labels: ``(prompt id, completion text) -> label``.
        name: reported name (default ``"table"``).

    Attributes:
        name: the oracle's name.
    """

    def __init__(self, labels: Mapping[Key, bool], name: str = "table") -> None:
        bad = {k: v for k, v in labels.items() if not isinstance(v, bool)}
        if bad:
            raise ValueError(f"labels must be True/False, got {next(iter(bad.items()))!r}")
        self._labels = dict(labels)
        self.name = name

    @classmethod
    def from_snippets(
        cls, snippets: Iterable[Snippet], name: str = "table", conflicts: Literal["error", "abstain"] = "error"
    ) -> TableOracle:
        """A table from labelled snippets; unlabelled and ``unsure`` ones are skipped.

        A snippet's ``prompt_id`` is its key; one without (hand-written, stored before prompts had
        ids) is keyed by the content-hash id a plain-string prompt gets, so plain strings find it.

        Args:
            snippets: the labelled rows.
            name: the oracle's name.
            conflicts: when one pair is labelled both ways: ``"error"`` raises, ``"abstain"``
                answers ``None`` for it.

        Raises:
            ValueError: for a pair labelled both ways under ``conflicts="error"``.
        """
        if conflicts not in ("error", "abstain"):
            raise ValueError(f"conflicts must be 'error' or 'abstain', got {conflicts!r}")
        table: dict[Key, bool] = {}
        disputed: set[Key] = set()
        for s in snippets:
            y = s.is_injurious
            if y is None:
                continue
            key = (s.prompt_id or text_prompt_id(s.prompt), s.completion)
            if table.get(key, y) != y:
                if conflicts == "error":
                    raise ValueError(
                        f"pair {key[0]!r} / {key[1][:60]!r} is labelled both injurious and safe; adjudicate it "
                        "or pass conflicts='abstain'"
                    )
                disputed.add(key)
            table[key] = y
        for key in disputed:
            del table[key]
        return cls(table, name)

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str], name: str | None = None,
                   conflicts: Literal["error", "abstain"] = "error") -> TableOracle:
        """A table from a snippets JSONL file (see :func:`nines.data.io.read_jsonl`)."""
        return cls.from_snippets(read_jsonl(path), name or os.path.basename(os.fspath(path)), conflicts)

    def label(self, prompts: Sequence[PromptLike], completions: Sequence[str]) -> list[bool | None]:
        """The table's label per pair, ``None`` for a pair it does not hold.

        Plain-string prompts are looked up under their content-hash id (see
        :func:`nines.generate.base.as_prompts`).

        Raises:
            ValueError: when the two sequences differ in length.
        """
        if isinstance(prompts, str) or isinstance(completions, str):
            raise TypeError("prompts and completions must be sequences, not single strings")
        if len(prompts) != len(completions):
            raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
        return [self._labels.get((as_prompt(p).id, c)) for p, c in zip(prompts, completions)]

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], Prompt):
            key = (key[0].id, key[1])
        return key in self._labels
