"""Fake generators and classifiers for the filter tests: plain classes satisfying the protocols."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nines.filter import FilterConfig
from nines.generate.base import Completion


class ScriptedGenerator:
    """Emits ``"{prompt}#c{i}"`` for the i-th completion of a prompt; its score comes from a script.

    ``scripts[prompt]`` is the score stream of that prompt; the shared ``table`` maps every emitted
    text to its score so :class:`LookupClassifier` can read it back.
    """

    def __init__(self, scripts: dict[str, Sequence[float]], default: float = 0.99) -> None:
        self.name = "scripted"
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.default = default
        self.table: dict[str, float] = {}
        self.used: dict[str, int] = {}
        self.calls: list[tuple[list[str], int, int | None]] = []

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        self.calls.append((list(prompts), n, seed))
        out = []
        for p in prompts:
            comps = []
            for _ in range(n):
                i = self.used.get(p, 0)
                self.used[p] = i + 1
                stream = self.scripts.get(p, [])
                s = stream[i] if i < len(stream) else self.default
                text = f"{p}#c{i}"
                self.table[text] = s
                comps.append(Completion(text=text, logprob=-float(i), meta={"score": s, "i": i}))
            out.append(comps)
        return out


class RandomGenerator:
    """Deterministic given ``seed``: scores drawn from ``default_rng(seed)`` in call order."""

    def __init__(self) -> None:
        self.name = "random"
        self.table: dict[str, float] = {}
        self.seeds: list[int | None] = []
        self._counter = 0

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        self.seeds.append(seed)
        rng = np.random.default_rng(seed)
        out = []
        for p in prompts:
            comps = []
            for _ in range(n):
                s = float(rng.random())
                self._counter += 1
                text = f"{p}#{s:.12f}#{self._counter}"
                self.table[text] = s
                comps.append(Completion(text=text, meta={"score": s}))
            out.append(comps)
        return out


class LookupClassifier:
    """Reads each completion's score from the generator's table; counts calls."""

    def __init__(self, table: dict[str, float], threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.table = table
        self.calls: list[int] = []

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        assert len(prompts) == len(completions)
        self.calls.append(len(completions))
        return np.array([self.table[c] for c in completions], dtype=np.float64)


def reference(scores: Sequence[float], cfg: FilterConfig, base: float) -> tuple[int | None, str, float, int]:
    """Straightforward one-prompt model of the documented rule: (index, rule, threshold_used, attempts)."""
    k = 1 if cfg.strategy == "sequential" else cfg.batch_size
    rejections = 0
    pos = 0
    thr = base
    while pos < cfg.max_attempts:
        m = min(k, cfg.max_attempts - pos)
        chunk = list(scores[pos:pos + m])
        if cfg.tighten_after is None or rejections < cfg.tighten_after:
            thr = base
        else:
            thr = max(min(cfg.min_threshold, base), base * cfg.tighten_factor ** (rejections - cfg.tighten_after + 1))
        ok = [j for j, s in enumerate(chunk) if not math.isnan(s) and s <= thr]
        if ok:
            j = min(ok, key=lambda j: (chunk[j], j)) if cfg.strategy == "batch_safest" else ok[0]
            return pos + j, "accepted", thr, pos + m
        rejections += m
        pos += m
    finite = [i for i in range(pos) if not math.isnan(scores[i])]
    if cfg.fallback == "safest" and finite:
        return min(finite, key=lambda i: (scores[i], i)), "fallback_safest", thr, pos
    return None, "fallback_refuse", thr, pos
