"""``StoryWorldJudge``: a simulated human rater on StoryWorld's latent quality (Bradley-Terry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from nines.generate.base import Completion, PromptLike, prompt_texts
from nines.judge.base import Candidate, check_pairs


class StoryWorldJudge:
    """Bradley-Terry rater on latent quality, standing in for a human.

    For qualities ``q1`` (first) and ``q2`` (second)::

        tie                     when |q1 - q2| < tie_margin
        P(first better) = sigmoid((q1 - q2) / noise)   otherwise

    so the judge is antisymmetric: swapping the pair maps outcome o to 1 - o in distribution,
    and a completion compared with an identically distributed one wins 1/2 in expectation.
    StoryWorld completions carry ``quality`` in their meta (about 1.0 coherent, 0.45 incoherent).

    Use :meth:`compare_completions` (``compare`` is the same) with ``Completion`` objects or dicts
    holding ``quality`` (e.g. ``FilterResult.completion_meta``). Plain strings need ``quality_fn``.

    Args:
        noise: Bradley-Terry temperature (> 0); small means the better completion nearly always wins.
        tie_margin: quality differences below this are ties (>= 0; 0 means ties only never).
        seed: seeds the rater's randomness (calls are reproducible in sequence).
        quality_fn: ``(prompt, text) -> quality`` for candidates given as plain text.
    """

    def __init__(
        self,
        noise: float = 0.1,
        tie_margin: float = 0.0,
        seed: int = 0,
        quality_fn: Callable[[str, str], float] | None = None,
    ) -> None:
        if not noise > 0:
            raise ValueError(f"noise must be > 0 (the Bradley-Terry temperature, e.g. 0.1), got {noise!r}")
        if not tie_margin >= 0:
            raise ValueError(f"tie_margin must be >= 0 (0 disables ties), got {tie_margin!r}")
        self.noise = float(noise)
        self.tie_margin = float(tie_margin)
        self.quality_fn = quality_fn
        self.name = f"storyworld-bt(noise={noise:g})"
        self.calls = 0
        self._rng = np.random.default_rng(seed)

    def quality(self, prompt: str, c: Candidate) -> float:
        """Latent quality of a candidate: ``meta["quality"]``, ``dict["quality"]`` or ``quality_fn``.

        Raises:
            ValueError: when the quality cannot be found.
        """
        if isinstance(c, Completion):
            if "quality" in c.meta:
                return float(c.meta["quality"])
            c = c.text
        elif isinstance(c, Mapping):
            if "quality" in c:
                return float(c["quality"])
            if "meta" in c and isinstance(c["meta"], Mapping) and "quality" in c["meta"]:
                return float(c["meta"]["quality"])
            c = str(c.get("text", ""))
        if self.quality_fn is None:
            raise ValueError(
                "StoryWorldJudge needs the latent quality: pass StoryWorld Completions (meta['quality']), "
                "dicts with 'quality' (e.g. FilterResult.completion_meta) or give quality_fn=(prompt, text)->q"
            )
        return float(self.quality_fn(prompt, str(c)))

    def probability_first(self, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
        """Expected outcome per pair: 1/2 on ties, else sigmoid((q1 - q2) / noise)."""
        d = np.asarray(q1, dtype=float) - np.asarray(q2, dtype=float)
        p = 1.0 / (1.0 + np.exp(-d / self.noise))
        return np.where(np.abs(d) < self.tie_margin, 0.5, p)

    def compare_completions(
        self, prompts: Sequence[PromptLike], first: Sequence[Candidate], second: Sequence[Candidate]
    ) -> np.ndarray:
        """Judge each pair; the main StoryWorld entry point.

        Args:
            prompts: one prompt per pair.
            first: StoryWorld ``Completion`` objects or dicts with ``quality``.
            second: the same, compared against ``first``.

        Returns:
            Outcomes in {1.0, 0.0, 0.5}, shape ``(len(prompts),)``.
        """
        check_pairs(prompts, first, second)
        texts = prompt_texts(prompts)
        q1 = np.array([self.quality(p, c) for p, c in zip(texts, first)], dtype=float)
        q2 = np.array([self.quality(p, c) for p, c in zip(texts, second)], dtype=float)
        d = q1 - q2
        u = self._rng.random(len(prompts))
        p = 1.0 / (1.0 + np.exp(-d / self.noise))
        out = np.where(u < p, 1.0, 0.0)
        out = np.where(np.abs(d) < self.tie_margin, 0.5, out)
        self.calls += len(prompts)
        return out

    compare = compare_completions
