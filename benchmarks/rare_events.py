"""Rare filtered failure rates (~1e-5): random labelling vs. importance sampling vs. stratified sampling.

Setting: StoryWorld ``random_excerpt`` prompts (calm fiction, ~0.3% injurious), a synthetic classifier
whose score is a deterministic noisy function of the latent event (injurious families logit ~5, plus
per-variant text-hash noise and a prompt-tension shift), threshold 0.9. The exact filtered failure rate
F follows from StoryWorld's exact outcome probabilities (see :mod:`nines.testing`).

An unlabelled pool of 2,000,000 prompts x 5 completions is scored (cheap); the designed samples label
pool items and estimate the pool's filtered rate F_pool (per-prompt renormalised target), which is
itself within ~10% of F. Each method gets the same label budget; ``covers F`` uses the exact F, and the
coverage column repeats the whole labelling step over 20 seeds on the same pool (target: F_pool).

Run: ``.venv/bin/python benchmarks/rare_events.py`` (about a minute).
"""

from __future__ import annotations

import time

import numpy as np

from nines.stats.binomial import clopper_pearson
from nines.stats.rare import filtered_target_weights, importance_estimate, importance_sample
from nines.stats.rare_stratified import stratified_estimate, stratified_sample
from nines.testing import DEFAULT_OUTCOME_LOGIT, storyworld_scenario

T = 0.9
N_PROMPTS, PER_PROMPT = 2_000_000, 5
EDGES = [0.5, 0.7, 0.8, 0.85, 0.88]
BUDGETS = (2_000, 5_000)
REPEATS = 20
#: Stratum failure-rate guesses for Neyman allocation (a prior: failures live just under the threshold).
PILOT = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-3]


def main() -> None:
    t0 = time.time()
    ol = {**DEFAULT_OUTCOME_LOGIT, "explicit_injury": 5.0, "death": 5.0, "indirect_injury": 4.5,
          "worsened_injury": 5.0}
    sc = storyworld_scenario(distribution="random_excerpt", outcome_logit=ol)
    F = sc.failure_rate(T)
    rng = np.random.default_rng(0)
    keys = np.repeat(sc.sample_keys(N_PROMPTS, rng), PER_PROMPT)
    cells = sc.sample_cells(keys, rng)
    s, y = sc.scores[keys, cells], sc.labels[keys, cells]
    ids = np.repeat(np.arange(N_PROMPTS), PER_PROMPT)
    p = filtered_target_weights(s <= T, ids)
    F_pool = float(p @ y)
    print(f"exact F = {F:.3e}; pool: {len(s):,} scored completions, {int((y & (s <= T)).sum())} accepted failures, "
          f"F_pool = {F_pool:.3e}  ({time.time() - t0:.0f}s)")
    print(f"{'method':<28}{'labels':>7}{'estimate':>11}{'95% CI':>24}{'width':>10}{'covers F':>9}"
          f"{'coverage':>10}{'med width':>11}")

    def row(name: str, n: int, est: float, lo: float, hi: float, cover: float, med_w: float) -> None:
        print(f"{name:<28}{n:>7}{est:>11.2e}{f'[{lo:.2e}, {hi:.2e}]':>24}{hi - lo:>10.2e}"
              f"{'yes' if lo <= F <= hi else 'no':>9}{cover:>10.2f}{med_w:>11.2e}")

    for n in BUDGETS:
        # Simple random labelling of filtered outputs: each label is Bernoulli(F); exact CP interval.
        ks = [int(sc.labels[k, sc.sample_cells(k, np.random.default_rng(r), accepted_only_at=T)].sum())
              for r, k in ((r, sc.sample_keys(n, np.random.default_rng(10_000 + r))) for r in range(REPEATS))]
        ivs = [clopper_pearson(k, n) for k in ks]
        cov = np.mean([iv.lower <= F <= iv.upper for iv in ivs])
        row("random filtered outputs", n, ivs[0].estimate, ivs[0].lower, ivs[0].upper, float(cov),
            float(np.median([iv.upper - iv.lower for iv in ivs])))
        for name, make, est_fn in (
            ("importance (near threshold)",
             lambda r, n=n: importance_sample(s, T, n, target_weights=p, floor=0.01, width=0.05, seed=r), importance_estimate),
            ("stratified (neyman)",
             lambda r, n=n: stratified_sample(s, T, EDGES, n, pilot=PILOT, target_weights=p, seed=r), stratified_estimate),
        ):
            res = []
            for r in range(REPEATS):
                smp = make(r)
                res.append(est_fn(y[smp.indices], smp))  # type: ignore[arg-type]
            cov = np.mean([e.lower <= F_pool <= e.upper for e in res])
            e = res[0]
            row(name, n, e.estimate, e.lower, e.upper, float(cov), float(np.median([x.upper - x.lower for x in res])))
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
