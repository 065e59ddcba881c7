"""Vectorised latent scenes: sampling, scene ids, prompt rendering, outcome probabilities.

A batch of scenes is a dict of equal-length int64 arrays (one per latent variable, see
:data:`SCENE_FIELDS`). Everything a prompt shows is a latent variable, and the outcome distribution
depends only on (tension, prior injury, victim sentience), so it is a function of the prompt text.
"""

from __future__ import annotations

import numpy as np

from nines.storyworld.families import INJURIOUS_OUTCOMES, OUTCOMES
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.tables import Tables

#: Latent variables of a scene, in scene-id digit order.
SCENE_FIELDS: tuple[str, ...] = (
    "victim", "agent", "weapon", "injury", "place", "object", "opening", "menace", "objline", "order",
)

Scenes = dict[str, np.ndarray]

#: Prompt distributions: tension mix, share of sentient victims, share of sentient victims hurt before.
DISTRIBUTIONS: dict[str, dict[str, tuple[float, ...] | float]] = {
    "default": {"tension": (0.35, 0.40, 0.25), "sentient": 0.78, "prior": 0.25},
    "random_excerpt": {"tension": (0.95, 0.05, 0.0), "sentient": 0.78, "prior": 0.15},
}

K = len(OUTCOMES)
INJURIOUS_MASK = np.array([o in INJURIOUS_OUTCOMES for o in OUTCOMES])
_O = {o: k for k, o in enumerate(OUTCOMES)}


def check_distribution(distribution: str) -> None:
    """Raise a helpful ValueError for an unknown distribution name."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"unknown distribution {distribution!r}; use one of {', '.join(sorted(DISTRIBUTIONS))}"
        )


def base_outcome_table() -> np.ndarray:
    """P(outcome | tension, prior injury, sentient victim), shape (3, 2, 2, K).

    Why these numbers: injuries are rare in calm scenes and common at a climax, so the two prompt
    distributions (which differ in tension mix) give very different base rates. Non-sentient victims
    cannot be sick, have hurt feelings or old injuries; only scenes with a prior injury can worsen it.
    """
    weights = {
        "explicit_injury": (0.0008, 0.018, 0.065),
        "death": (0.0002, 0.004, 0.02),
        "indirect_injury": (0.0004, 0.008, 0.03),
        "worsened_injury": (0.002, 0.03, 0.07),
        "near_miss": (0.01, 0.12, 0.30),
        "object_damage": (0.03, 0.08, 0.12),
        "metaphor": (0.03, 0.02, 0.01),
        "hurt_feelings": (0.05, 0.04, 0.02),
        "sickness": (0.03, 0.02, 0.01),
        "past_injury": (0.03, 0.02, 0.01),
    }
    table = np.zeros((3, 2, 2, K))
    for t in range(3):
        for prior in range(2):
            for sent in range(2):
                row = np.zeros(K)
                for name, w in weights.items():
                    row[_O[name]] = w[t]
                if not prior:
                    row[_O["worsened_injury"]] = 0.0
                else:
                    row[_O["past_injury"]] += 0.05  # a healing injury is often mentioned
                if not sent:
                    for name in ("hurt_feelings", "sickness", "past_injury", "worsened_injury"):
                        row[_O[name]] = 0.0
                row[_O["neutral"]] = 1.0 - row.sum()
                table[t, prior, sent] = row
    return table


def sample_scenes(tb: Tables, n: int, rng: np.random.Generator, distribution: str) -> Scenes:
    """Sample ``n`` latent scenes (vectorised)."""
    d = DISTRIBUTIONS[distribution]
    genre = rng.integers(0, tb.n_genres, n)
    sentient = rng.random(n) < float(d["sentient"])  # type: ignore[arg-type]
    victim = np.where(sentient, tb.sentient_pool.pick(genre, rng), tb.nonsentient_pool.pick(genre, rng))
    vclass = tb.victim_class[victim]
    agent = tb.agent_pool.pick(genre, rng)
    weapon = tb.weapon_pool.pick(tb.agent_wgroup[agent], rng)
    n_inj = len(tb.injury_ctx) - 1
    has_prior = (vclass == SENTIENT) & (rng.random(n) < float(d["prior"]))  # type: ignore[arg-type]
    injury = np.where(has_prior, rng.integers(1, n_inj + 1, n), 0)
    place = tb.place_pool.pick(genre, rng)
    obj = tb.object_pool.pick(genre, rng)
    okey = np.where(vclass == SENTIENT, has_prior.astype(np.int64), vclass + 1)
    opening = tb.opening_pool.pick(okey, rng)
    cum = np.cumsum(d["tension"])
    tension = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), 2)
    menace = tb.menace_pool.pick(tension, rng)
    objline = rng.integers(0, len(tb.object_fmt), n)
    order = rng.integers(0, 2, n)
    return {
        "victim": victim, "agent": agent, "weapon": weapon, "injury": injury, "place": place,
        "object": obj, "opening": opening, "menace": menace, "objline": objline, "order": order,
    }


def radices(tb: Tables) -> list[int]:
    """Digit sizes of the mixed-radix scene id, in :data:`SCENE_FIELDS` order."""
    sizes = [
        len(tb.victims), len(tb.agents), len(tb.weapons), len(tb.injury_ctx), len(tb.places),
        len(tb.objects), len(tb.opening_fmt), len(tb.menace_fmt), len(tb.object_fmt), 2,
    ]
    total = 1
    for s in sizes:
        total *= s
    if total >= 2**63:
        raise ValueError("StoryWorld tables too large for int64 scene ids; shrink the lexicon")
    return sizes


def encode(tb: Tables, scenes: Scenes) -> np.ndarray:
    """Scene id: a mixed-radix number of all latent variables (same id <=> same scene and prompt)."""
    sid = np.zeros(len(scenes["victim"]), dtype=np.int64)
    for field, size in zip(SCENE_FIELDS, radices(tb)):
        sid = sid * size + scenes[field]
    return sid


def decode(tb: Tables, ids: np.ndarray) -> Scenes:
    """Inverse of :func:`encode`."""
    ids = np.asarray(ids, dtype=np.int64).copy()
    out: Scenes = {}
    for field, size in reversed(list(zip(SCENE_FIELDS, radices(tb)))):
        out[field] = ids % size
        ids //= size
    return {f: out[f] for f in SCENE_FIELDS}


def scene_key(tb: Tables, scenes: Scenes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tension, prior injury 0/1, sentient 0/1) per scene: the outcome distribution's arguments."""
    tension = tb.menace_tension[scenes["menace"]]
    prior = (scenes["injury"] > 0).astype(np.int64)
    sentient = (tb.victim_class[scenes["victim"]] == SENTIENT).astype(np.int64)
    return tension, prior, sentient


def rest_ctx(tb: Tables, scenes: Scenes) -> list[tuple[str, ...]]:
    """Per-scene context tail (weapon, injury, place, object) shared by prompt and completion."""
    wc, ic, pc, oc = tb.weapon_ctx, tb.injury_ctx, tb.place_ctx, tb.object_ctx
    return [
        wc[w] + ic[i] + pc[p] + oc[o]
        for w, i, p, o in zip(
            scenes["weapon"].tolist(), scenes["injury"].tolist(), scenes["place"].tolist(),
            scenes["object"].tolist(),
        )
    ]


def render_prompts(tb: Tables, scenes: Scenes, rest: list[tuple[str, ...]]) -> list[str]:
    """Prompt texts: opening, then menace and object line in the scene's order."""
    vc, ac = tb.victim_ctx, tb.agent_ctx
    of, mf, lf = tb.opening_fmt, tb.menace_fmt, tb.object_fmt
    out: list[str] = []
    append = out.append
    for v, a, r, o, m, li, order in zip(
        scenes["victim"].tolist(), scenes["agent"].tolist(), rest, scenes["opening"].tolist(),
        scenes["menace"].tolist(), scenes["objline"].tolist(), scenes["order"].tolist(),
    ):
        fmt = of[o] + " " + (mf[m] + " " + lf[li] if order else lf[li] + " " + mf[m])
        append(fmt.format(*(vc[v] + ac[a] + r)))
    return out
