"""Win rate of filtered vs unfiltered: naive and coupled designs have the same expectation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from nines.evaluate.winrate import coupled_winrate, naive_winrate
from nines.filter import FilterConfig
from nines.generate.base import Completion
from nines.judge import StoryWorldJudge
from nines.stats.winrate import exact_winrate, winrate_from_outcomes
from nines.storyworld import StoryWorld
from nines.testing import MetaClassifier, RecordingGenerator


def _hash_uniform(*parts: str) -> float:
    h = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64


# ---- a discrete toy model with exact probabilities ----------------------------------------------

TOY = {  # prompt -> (probabilities, classifier scores, qualities)
    "p0": ([0.5, 0.3, 0.15, 0.05], [0.1, 0.3, 0.9, 0.8], [1.0, 0.6, 1.2, 0.2]),
    "p1": ([0.2, 0.2, 0.6], [0.2, 0.95, 0.7], [0.5, 1.0, 0.9]),
    "p2": ([0.7, 0.1, 0.1, 0.05, 0.05], [0.05, 0.6, 0.2, 0.45, 0.99], [0.8, 0.3, 0.9, 1.0, 0.1]),
}
THRESHOLD = 0.5
NOISE = 0.3


class ToyGenerator:
    name = "toy"

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        rng = np.random.default_rng(seed)
        out = []
        for p in prompts:
            probs, _, qual = TOY[p]
            idx = rng.choice(len(probs), size=n, p=probs)
            out.append([Completion(f"{p}:{i}", meta={"quality": qual[i]}) for i in idx])
        return out


class ToyClassifier:
    threshold = THRESHOLD

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([TOY[p][1][int(c.split(":")[1])] for p, c in zip(prompts, completions)])


def toy_exact_w() -> float:
    judge = StoryWorldJudge(noise=NOISE)
    ws = []
    for probs, scores, qual in TOY.values():
        q = np.array(qual)
        jmat = judge.probability_first(q[:, None], q[None, :])
        ws.append(exact_winrate(np.array(probs), np.array(scores) <= THRESHOLD, jmat))
    return float(np.mean(ws))


def test_both_designs_match_exact_w_on_toy_model() -> None:
    w = toy_exact_w()
    prompts = list(TOY) * 3000
    gen, clf = ToyGenerator(), ToyClassifier()
    naive = naive_winrate(gen, clf, StoryWorldJudge(noise=NOISE, seed=1), prompts, seed=11)
    coupled = coupled_winrate(gen, clf, StoryWorldJudge(noise=NOISE, seed=2), prompts, seed=12)
    assert abs(naive.estimate - w) < 4 * naive.std_error
    assert abs(coupled.estimate - w) < 4 * coupled.std_error
    assert naive.judge_calls == len(prompts)
    assert coupled.judge_calls < 0.5 * len(prompts)
    assert naive.lower <= w <= naive.upper or abs(naive.estimate - w) < 3 * naive.std_error


def test_replicated_means_match_exact_w_on_toy_model() -> None:
    """Mean over replications of each estimator matches the analytic W within noise."""
    w = toy_exact_w()
    gen, clf = ToyGenerator(), ToyClassifier()
    prompts = list(TOY) * 100
    naive = [naive_winrate(gen, clf, StoryWorldJudge(noise=NOISE, seed=r), prompts, seed=r).estimate
             for r in range(40)]
    coupled = [coupled_winrate(gen, clf, StoryWorldJudge(noise=NOISE, seed=r), prompts, seed=1000 + r).estimate
               for r in range(40)]
    for ests in (naive, coupled):
        se = np.std(ests, ddof=1) / np.sqrt(len(ests))
        assert abs(np.mean(ests) - w) < 4 * se


# ---- StoryWorld ---------------------------------------------------------------------------------


def brute_force_w(world: StoryWorld, prompts: list[str], judge: StoryWorldJudge, draws: int = 60) -> float:
    """W from many draws per prompt: mean of J(f_i, u_j) over accepted f_i and all u_j."""
    gen = RecordingGenerator(world.generator())
    clf = MetaClassifier(gen.meta)
    comps = gen.generate(prompts, n=draws, seed=999)
    ws = []
    for p, cs in zip(prompts, comps):
        q = np.array([c.meta["quality"] for c in cs])
        ok = clf.score([p] * len(cs), [c.text for c in cs]) <= clf.threshold
        if ok.any():
            ws.append(judge.probability_first(q[ok][:, None], q[None, :]).mean())
    return float(np.mean(ws))


def test_designs_agree_on_storyworld_and_with_brute_force() -> None:
    world = StoryWorld(seed=0, incoherent_rate=0.25)
    prompts = world.sample_prompts(4000, seed=5)
    gen = RecordingGenerator(world.generator())
    clf = MetaClassifier(gen.meta)
    naive = naive_winrate(gen, clf, StoryWorldJudge(noise=0.2, seed=1), prompts, seed=1)
    coupled = coupled_winrate(gen, clf, StoryWorldJudge(noise=0.2, seed=2), prompts, seed=2)
    combined = np.hypot(naive.std_error, coupled.std_error)
    assert abs(naive.estimate - coupled.estimate) < 3 * combined
    truth = brute_force_w(world, prompts, StoryWorldJudge(noise=0.2))
    assert truth > 0.52  # filtering out incoherent completions makes the filtered side better
    assert abs(naive.estimate - truth) < 4 * naive.std_error
    assert abs(coupled.estimate - truth) < 4 * coupled.std_error
    assert coupled.judge_calls < 0.5 * naive.judge_calls
    assert coupled.std_error < naive.std_error


# ---- pure estimator ----------------------------------------------------------------------------


def test_winrate_from_outcomes_intervals() -> None:
    rng = np.random.default_rng(0)
    o = rng.choice([0.0, 0.5, 1.0], size=400, p=[0.3, 0.2, 0.5])
    t = winrate_from_outcomes(o)
    w = winrate_from_outcomes(o, method="wilson")
    b = winrate_from_outcomes(o, method="bootstrap", seed=1)
    assert t.estimate == pytest.approx(o.mean())
    for r in (t, w, b):
        assert r.lower < r.estimate < r.upper
        assert r.half_width == pytest.approx(t.half_width, rel=0.15)
    assert w.half_width >= t.half_width * 0.99  # Wilson is conservative for {0, .5, 1}
    assert "W = " in str(t) and t.to_dict()["n_prompts"] == 400


def test_winrate_t_interval_coverage() -> None:
    rng = np.random.default_rng(1)
    p = np.array([0.3, 0.2, 0.5])
    truth = float(p @ [0.0, 0.5, 1.0])
    hits = 0
    for _ in range(800):
        r = winrate_from_outcomes(rng.choice([0.0, 0.5, 1.0], size=150, p=p))
        hits += r.lower <= truth <= r.upper
    assert 0.93 <= hits / 800 <= 0.97


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="outcomes must be"):
        winrate_from_outcomes([0.0, 0.3])
    with pytest.raises(ValueError, match="at least one"):
        winrate_from_outcomes([])
    with pytest.raises(ValueError, match="unknown interval method"):
        winrate_from_outcomes([1.0], method="exact")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sequential"):
        naive_winrate(ToyGenerator(), ToyClassifier(), StoryWorldJudge(), ["p0"],
                      config=FilterConfig(strategy="batch_safest"))
    with pytest.raises(ValueError, match="single string"):
        coupled_winrate(ToyGenerator(), ToyClassifier(), StoryWorldJudge(), "p0")
