"""``RecordedJudge``: replays recorded (human) pairwise comparisons from JSONL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nines.generate.base import PromptLike, prompt_text
from nines.judge.base import Candidate, check_pairs, text_of


class UnknownPairError(KeyError):
    """A pair was asked for that the recording does not contain."""


class RecordedJudge:
    """Replays comparisons recorded as JSONL rows ``{"prompt", "first", "second", "outcome"}``.

    ``outcome`` is 1.0 (first better), 0.0 (second better) or 0.5 (tie); the strings ``"first"``,
    ``"second"`` and ``"tie"`` are accepted too. A pair recorded in one order also answers the
    swapped order with ``1 - outcome``. When a pair was recorded several times, the outcomes
    are replayed in turn (cycling), so repeated questions get the recorded spread.

    Args:
        path: the JSONL file.

    Raises:
        ValueError: on a malformed row (the line number is given).
    """

    _WORDS = {"first": 1.0, "a": 1.0, "second": 0.0, "b": 0.0, "tie": 0.5}

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"recorded:{self.path.name}"
        self.calls = 0
        self._rows: dict[tuple[str, str, str], list[float]] = {}
        self._next: dict[tuple[str, str, str], int] = {}
        with self.path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    self._add(line, lineno)

    def _add(self, line: str, lineno: int) -> None:
        try:
            row = json.loads(line)
            key = (str(row["prompt"]), str(row["first"]), str(row["second"]))
            o = row["outcome"]
            outcome = self._WORDS[o.lower()] if isinstance(o, str) else float(o)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(
                f"{self.path}:{lineno}: each row must be JSON with prompt, first, second and outcome "
                f"(1, 0, 0.5 or 'first'/'second'/'tie'); got {line.strip()[:120]!r} ({e!r})"
            ) from None
        if outcome not in (0.0, 0.5, 1.0):
            raise ValueError(f"{self.path}:{lineno}: outcome must be 1, 0 or 0.5, got {o!r}")
        self._rows.setdefault(key, []).append(outcome)

    def __len__(self) -> int:
        return sum(len(v) for v in self._rows.values())

    def _lookup(self, prompt: str, a: str, b: str) -> float:
        for key, flip in (((prompt, a, b), False), ((prompt, b, a), True)):
            outs = self._rows.get(key)
            if outs:
                i = self._next.get(key, 0)
                self._next[key] = i + 1
                o = outs[i % len(outs)]
                return 1.0 - o if flip else o
        raise UnknownPairError(
            f"no recorded comparison for prompt {prompt[:60]!r} with first {a[:60]!r} and second "
            f"{b[:60]!r} in {self.path}; record it first (the web app writes these rows) or judge "
            "this pair with another judge"
        )

    def compare(self, prompts: Sequence[PromptLike], first: Sequence[Candidate], second: Sequence[Candidate]) -> np.ndarray:
        """Replay the recorded outcome of each pair.

        Raises:
            UnknownPairError: for a pair not in the recording (in either order).
        """
        check_pairs(prompts, first, second)
        out = np.array([self._lookup(prompt_text(p), text_of(a), text_of(b)) for p, a, b in zip(prompts, first, second)])
        self.calls += len(prompts)
        return out.astype(float)
