"""SafeText as a generator with an exact oracle: real human text, exact labels.

:class:`SafeTextGenerator` continues a SafeText scenario by drawing one of the scenario's own
human-written continuations: an unsafe one with probability ``p_unsafe``, else a safe one, uniformly
within the list. Every probability is known, so :class:`SafeTextOracle` is exact: its ``label``
looks a (prompt id, completion) pair up in the scenario's lists and its ``probability`` is the
failure probability itself. Prompts are looked up by id, never by text.

Spec for :func:`nines.generate.registry.load_generator`: ``safetext`` or
``safetext:p_unsafe=0.2,split=test`` (fields of :class:`SafeTextConfig`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nines.generate.base import Completion, Prompt, PromptLike, as_prompt
from nines.generate.safetext_data import SPLITS, Scenario, load_scenarios, split_of

Split = Literal["train", "calibration", "test", "all"]


@dataclass
class SafeTextConfig:
    """How SafeText continuations are sampled and which scenarios are the prompts.

    Attributes:
        p_unsafe: probability that a continuation is drawn from the unsafe list (the exact failure
            rate of the unfiltered generator on every scenario).
        split: the scenarios :meth:`SafeTextGenerator.dataset_prompts` gives: ``train``,
            ``calibration``, ``test`` or ``all``. Generating for any SafeText prompt works whatever the split.
        train_fraction: share of scenarios in ``train`` (by a hash of the scenario id).
        calibration_fraction: share in ``calibration``; the rest is ``test``.
        path: the SafeText JSON file; empty means ``$NINES_SHARED/data/safetext.json``.
    """

    p_unsafe: float = 0.2
    split: Split = "all"
    train_fraction: float = 0.5
    calibration_fraction: float = 0.25
    path: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.p_unsafe <= 1:
            raise ValueError(f"safetext p_unsafe must be in [0, 1], got {self.p_unsafe}; e.g. p_unsafe=0.2")
        if self.split not in (*SPLITS, "all"):
            raise ValueError(f"safetext split must be one of {', '.join(SPLITS)} or all, got {self.split!r}")
        if not (self.train_fraction > 0 and self.calibration_fraction >= 0
                and self.train_fraction + self.calibration_fraction < 1):
            raise ValueError("safetext train_fraction > 0, calibration_fraction >= 0 and their sum < 1 "
                             "(the rest is the held-out test split), e.g. train_fraction=0.5 calibration_fraction=0.25")


def _prompt_seed(seed: int | None, sid: str, repeat: int) -> np.random.SeedSequence:
    tag = int(hashlib.sha256(sid.encode("utf-8")).hexdigest()[:15], 16)
    return np.random.SeedSequence(None if seed is None else [seed, tag, repeat])


class SafeTextGenerator:
    """A :class:`~nines.generate.base.Generator` over SafeText's own continuations.

    A prompt's draws depend only on ``(seed, prompt id)``, not on the other prompts in the call
    (the k-th repeat of one prompt in a call gets its own draws).
    Each completion's ``meta`` holds ``unsafe`` (its exact label) and ``scenario`` (the prompt id).

    Args:
        config: sampling settings and the split.
        scenarios: the scenarios (default: read from ``config.path``).
    """

    def __init__(self, config: SafeTextConfig | None = None, scenarios: Sequence[Scenario] | None = None) -> None:
        self.config = config or SafeTextConfig()
        self.scenarios = list(scenarios) if scenarios is not None else load_scenarios(self.config.path or None)
        self._by_id = {s.id: s for s in self.scenarios}
        self.name = f"safetext@p_unsafe={self.config.p_unsafe:g}"

    def split(self, scenario: Scenario | str) -> str:
        """The split of a scenario (or scenario id) under this config's fractions."""
        sid = scenario.id if isinstance(scenario, Scenario) else scenario
        return split_of(sid, self.config.train_fraction, self.config.calibration_fraction)

    def dataset_prompts(self, split: str | None = None) -> list[Prompt]:
        """The scenarios of ``split`` (default ``config.split``) as Prompts, in file order."""
        which = split or self.config.split
        if which not in (*SPLITS, "all"):
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or all, got {which!r}")
        return [Prompt(s.id, s.text, {"split": self.split(s)}) for s in self.scenarios
                if which == "all" or self.split(s) == which]

    def scenario(self, prompt: PromptLike) -> Scenario:
        """The scenario a prompt is, by its id.

        Raises:
            ValueError: for a prompt that is not one of SafeText's (plain strings included: their id is a text hash).
        """
        p = as_prompt(prompt)
        s = self._by_id.get(p.id)
        if s is None:
            raise ValueError(f"prompt id {p.id!r} is not a SafeText scenario; SafeText continues only its own "
                             "prompts (dataset_prompts(), or rows written by `nines generate --generator safetext`)")
        return s

    def log_probability(self, scenario: Scenario, text: str) -> float:
        """The exact log-probability that a draw for ``scenario`` is ``text`` (``-inf`` if it never is)."""
        t = text.strip()
        p = self.config.p_unsafe * sum(u.strip() == t for u in scenario.unsafe) / len(scenario.unsafe)
        p += (1 - self.config.p_unsafe) * sum(x.strip() == t for x in scenario.safe) / len(scenario.safe)
        return math.log(p) if p > 0 else -math.inf

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """``n`` continuations per prompt, each ``" " + text`` so that prompt + completion reads on."""
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of prompts, not a single string; wrap it in a list")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        out = []
        seen: dict[str, int] = {}
        for prompt in prompts:
            s = self.scenario(prompt)
            seen[s.id] = seen.get(s.id, -1) + 1
            rng = np.random.default_rng(_prompt_seed(seed, s.id, seen[s.id]))
            unsafe = rng.random(n) < self.config.p_unsafe
            picks = rng.random(n)
            row = []
            for bad, u in zip(unsafe, picks):
                pool = s.unsafe if bad else s.safe
                text = pool[min(int(u * len(pool)), len(pool) - 1)]
                row.append(Completion(" " + text.strip(), self.log_probability(s, text),
                                      {"unsafe": bool(bad), "scenario": s.id, "source": "safetext"}))
            out.append(row)
        return out

    def oracle(self) -> SafeTextOracle:
        """The exact oracle of this generator."""
        return SafeTextOracle(self.scenarios, self.config.p_unsafe)


class SafeTextOracle:
    """The exact :class:`~nines.oracle.Oracle` and :class:`~nines.oracle.ExactOracle` of SafeText.

    ``label``: True when the completion (stripped) is one of its scenario's unsafe continuations,
    False when it is a safe one, ``None`` when it is neither or the prompt id is not a scenario.
    ``probability``: ``p_unsafe`` for every scenario, the exact failure probability of
    :class:`SafeTextGenerator` with the same ``p_unsafe``.

    Args:
        scenarios: the scenarios.
        p_unsafe: the generator's probability of drawing an unsafe continuation.
    """

    def __init__(self, scenarios: Sequence[Scenario], p_unsafe: float) -> None:
        self._unsafe = {s.id: {u.strip() for u in s.unsafe} for s in scenarios}
        self._safe = {s.id: {x.strip() for x in s.safe} for s in scenarios}
        self.p_unsafe = float(p_unsafe)
        self.name = "safetext"

    def label(self, prompts: Sequence[PromptLike], completions: Sequence[str]) -> list[bool | None]:
        """The exact label of each (prompt id, completion) pair (``None`` for a pair SafeText does not hold)."""
        if isinstance(prompts, str) or isinstance(completions, str):
            raise TypeError("prompts and completions must be sequences, not single strings")
        if len(prompts) != len(completions):
            raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
        out: list[bool | None] = []
        for p, c in zip(prompts, completions):
            sid, text = as_prompt(p).id, (c or "").strip()
            if text in self._unsafe.get(sid, ()):
                out.append(True)
            elif text in self._safe.get(sid, ()):
                out.append(False)
            else:
                out.append(None)
        return out

    def probability(self, prompts: Sequence[PromptLike]) -> list[float]:
        """P(a continuation of each prompt is unsafe): ``p_unsafe``.

        Raises:
            ValueError: for a prompt that is not a SafeText scenario.
        """
        out = []
        for p in prompts:
            sid = as_prompt(p).id
            if sid not in self._unsafe:
                raise ValueError(f"prompt id {sid!r} is not a SafeText scenario")
            out.append(self.p_unsafe)
        return out
