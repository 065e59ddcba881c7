"""KL divergence of a policy from its frozen starting point, estimated from the policy's own samples.

For completions y ~ pi(.|x) (each ending with EOS),

    KL(pi || pi0) = E_x E_y [log pi(y|x) - log pi0(y|x)],

so the per-completion log-ratio is an unbiased single-sample estimate; its mean over prompts and a
standard error are reported. Both log-probabilities are computed here by teacher forcing, over the
completion tokens *and* the end-of-sequence token, so they are comparable between the two models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nines.distill.sft import encode_pairs, pair_logprobs
from nines.generate.base import PromptLike, prompt_texts


@dataclass
class KLEstimate:
    """Mean per-completion KL (nats) with its standard error, over ``n`` sampled completions."""

    kl: float
    stderr: float
    n: int

    @property
    def sqrt_kl(self) -> float:
        """sqrt(max(KL, 0)), the x-axis of the reward-vs-KL plots."""
        return float(np.sqrt(max(self.kl, 0.0)))


def sequence_logprobs(model: Any, tokenizer: Any, prompts: Sequence[PromptLike], completions: Sequence[str],
                      batch_size: int = 256) -> np.ndarray:
    """log p(" " + completion + EOS | prompt) under ``model``, shape (N,); prompts are Prompts or texts."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return pair_logprobs(model, encode_pairs(tokenizer, prompt_texts(prompts), completions), pad, batch_size)[0]


def kl_to_reference(policy: Any, reference: Any, tokenizer: Any, prompts: Sequence[PromptLike],
                    completions: Sequence[str]) -> KLEstimate:
    """Estimate KL(policy || reference) from completions *sampled from the policy* for ``prompts``."""
    lr = sequence_logprobs(policy, tokenizer, prompts, completions) - sequence_logprobs(
        reference, tokenizer, prompts, completions)
    n = len(lr)
    se = float(np.std(lr, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return KLEstimate(float(np.mean(lr)) if n else float("nan"), se, n)
