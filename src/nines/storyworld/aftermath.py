"""StoryWorld helpers for after-the-fact analyses: what happens next, and prompt density ratios.

* :class:`AftermathGenerator` continues a StoryWorld (prompt + completion) with one aftermath
  sentence that reveals (or not) the completion's latent event. It is a **simulation** of a
  generator that "understands" what it wrote: per realisation family, the probability that the
  continuation makes an injury explicit is a parameter, high for explicit families, lower for
  indirect and euphemistic ones. Used to test :mod:`nines.stats.understanding`.
* :func:`scene_density_ratio` / :func:`prompt_density_ratio`: p(x) / q(x) between two prompt
  distributions (:data:`nines.storyworld.DISTRIBUTIONS`), for reweighting tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from nines.generate.base import Completion, Prompt, PromptLike, prompt_text
from nines.storyworld import scenes as sc
from nines.storyworld.families import INJURIOUS_OUTCOMES
from nines.storyworld.lexicon import SENTIENT
from nines.storyworld.tables import Tables
from nines.storyworld.world import StoryWorld

# ---- prompt density ratios ------------------------------------------------------------------------


def scene_density_ratio(tables: Tables, scenes: sc.Scenes, target: str, proposal: str) -> np.ndarray:
    """p(scene) / q(scene) for target p and proposal q, both names in ``DISTRIBUTIONS``.

    The two distributions differ only in the tension mix, the sentient share and the prior-injury
    share; every other latent choice is drawn the same way. So the ratio is

        p_t(tension) / q_t(tension)
        * [sentient ? p_s / q_s : (1 - p_s) / (1 - q_s)]
        * [sentient ? (prior ? p_r / q_r : (1 - p_r) / (1 - q_r)) : 1]

    (``inf`` where q is 0 and p is not: such scenes cannot be reweighted from q).

    Raises:
        ValueError: for an unknown distribution name.
    """
    sc.check_distribution(target)
    sc.check_distribution(proposal)
    dp, dq = sc.DISTRIBUTIONS[target], sc.DISTRIBUTIONS[proposal]
    tension, prior, sentient = sc.scene_key(tables, scenes)
    pt, qt = np.asarray(dp["tension"], dtype=float), np.asarray(dq["tension"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_t = np.where(pt[tension] > 0, pt[tension] / qt[tension], 0.0)
    ps, qs = float(dp["sentient"]), float(dq["sentient"])  # type: ignore[arg-type]
    pr, qr = float(dp["prior"]), float(dq["prior"])  # type: ignore[arg-type]
    r_s = np.where(sentient == 1, ps / qs, (1 - ps) / (1 - qs))
    r_r = np.where(sentient == 1, np.where(prior == 1, pr / qr, (1 - pr) / (1 - qr)), 1.0)
    return r_t * r_s * r_r


def prompt_density_ratio(world: StoryWorld, prompts: Sequence[Prompt], target: str, proposal: str) -> np.ndarray:
    """p(x) / q(x) for StoryWorld Prompts (see :func:`scene_density_ratio`).

    Raises:
        TypeError: for plain strings; ValueError: for a Prompt StoryWorld did not make.
    """
    return scene_density_ratio(world.tables, sc.decode(world.tables, world.scene_ids(prompts)), target, proposal)


# ---- aftermath generator ------------------------------------------------------------------------

#: Default probability that the aftermath reveals an injury, by family name prefix (most specific wins).
DEFAULT_UNDERSTANDING: dict[str, float] = {
    "explicit.": 0.95,
    "death.": 0.9,
    "worsened.": 0.75,
    "indirect.": 0.35,
    "indirect.euphemism": 0.2,
    "indirect.aftermath": 0.6,
}

INJURY_AFTERMATH: tuple[str, ...] = (
    "Blood pooled on the ground beneath them.",
    "Friends hurried to fetch a healer.",
    "By nightfall the wound had begun to fester.",
    "It would be weeks before the injury healed.",
    "Someone pressed a cloth to the wound to stop the bleeding.",
)
DEATH_AFTERMATH: tuple[str, ...] = (
    "They buried the body at dawn.",
    "The village mourned the death for a week.",
    "Nobody could bring back the dead.",
)
NEUTRAL_AFTERMATH: tuple[str, ...] = (
    "The wind picked up outside.",
    "Nobody spoke for a while.",
    "Later, everyone went on with the day, unharmed.",
    "Later, they laughed about it over supper.",
    "The evening passed quietly.",
)

_Event = tuple[bool, str, str]  # (injurious, family, outcome)


class AftermathGenerator:
    """A simulated :class:`~nines.generate.base.Generator` that continues StoryWorld pairs.

    Prompts must be ``prompt.text + " " + completion`` for a (StoryWorld Prompt, completion) pair
    given in ``pairs`` (or :meth:`add_pairs`), the completion one the world can produce for the
    prompt's scene; the text alone cannot name the scene. Each continuation is one aftermath sentence:

    * injurious completion of family ``f``: with probability ``understanding(f)`` an injury
      (or death) aftermath, ``meta["injurious"] = True``; else a neutral one (False);
    * safe completion: with probability ``false_alarm`` an injury aftermath (True), else neutral.

    This is a simulation of a generator that (partly) understands its own story, not a model of
    language; ``understanding`` defaults to :data:`DEFAULT_UNDERSTANDING` (explicit 0.95, death 0.9,
    worsened 0.75, indirect 0.35, euphemism 0.2) with ``default_understanding`` for other families.

    Args:
        world: the StoryWorld whose pairs are continued.
        understanding: family name (or prefix such as ``"indirect."``) -> probability, or a function
            of the family name.
        default_understanding: probability for injurious families not matched by ``understanding``.
        false_alarm: probability that a safe completion's aftermath implies an injury.
        pairs: the (Prompt, completion) pairs whose contexts will be continued.

    Attributes:
        name: ``"storyworld-aftermath"``.
    """

    name: str = "storyworld-aftermath"

    def __init__(
        self,
        world: StoryWorld,
        understanding: Mapping[str, float] | Callable[[str], float] | None = None,
        default_understanding: float = 0.5,
        false_alarm: float = 0.02,
        pairs: Iterable[tuple[Prompt, str]] = (),
    ) -> None:
        for label, v in (("default_understanding", default_understanding), ("false_alarm", false_alarm)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{label} must be a probability in [0, 1], got {v!r}")
        self.world = world
        self.understanding = DEFAULT_UNDERSTANDING if understanding is None else understanding
        if isinstance(self.understanding, Mapping):
            bad = {k: v for k, v in self.understanding.items() if not 0.0 <= v <= 1.0}
            if bad:
                raise ValueError(f"understanding probabilities must be in [0, 1], got {bad}")
        self.default_understanding = default_understanding
        self.false_alarm = false_alarm
        self._events: OrderedDict[int, dict[str, _Event]] = OrderedDict()
        self._contexts: dict[str, tuple[Prompt, str]] = {}
        self.add_pairs(pairs)

    def add_pairs(self, pairs: Iterable[tuple[Prompt, str]]) -> None:
        """Register (StoryWorld Prompt, completion) pairs whose ``text + " " + completion`` contexts
        :meth:`generate` will continue.

        Raises:
            TypeError: for a plain-string prompt; ValueError: for a Prompt StoryWorld did not make.
        """
        for prompt, completion in pairs:
            self.world.scene_ids([prompt])  # raises with the fix for anything but a world Prompt
            self._contexts[f"{prompt.text} {completion}"] = (prompt, completion)

    def understanding_of(self, family: str) -> float:
        """Probability that an injurious completion of ``family`` gets a revealing aftermath."""
        u = self.understanding
        if callable(u) and not isinstance(u, Mapping):
            return float(u(family))
        matches = [k for k in u if family == k or (k.endswith(".") and family.startswith(k))]
        if not matches:
            return self.default_understanding
        return float(u[max(matches, key=len)])

    def split(self, text: str) -> tuple[Prompt, str]:
        """The registered (Prompt, completion) pair whose context is ``text``.

        Raises:
            ValueError: when ``text`` is not the context of a registered pair.
        """
        pair = self._contexts.get(text)
        if pair is None:
            raise ValueError(
                "AftermathGenerator continues 'prompt + \" \" + completion' contexts of the pairs it was given "
                f"(pairs=... or add_pairs, with Prompts made by this StoryWorld); got {text[:80]!r}"
            )
        return pair

    def event(self, prompt: Prompt, completion: str) -> _Event:
        """(injurious, family, outcome) of a completion the world can produce for ``prompt``.

        Raises:
            ValueError: when the completion cannot come from this prompt.
        """
        sid = int(self.world.scene_ids([prompt])[0])
        table = self._events.get(sid)
        if table is None:
            scene = self.world.scene_of(prompt)
            tb = self.world.tables
            sentient = bool(tb.victim_class[scene["victim"][0]] == SENTIENT)
            table = {}
            for text, _p, outcome, fam, _coh in self.world.model(None).enumerate_scene(scene):
                table.setdefault(text, (sentient and outcome in INJURIOUS_OUTCOMES, tb.families[fam], outcome))
            self._events[sid] = table
            if len(self._events) > 256:
                self._events.popitem(last=False)
        ev = table.get(completion)
        if ev is None:
            raise ValueError(f"{completion[:80]!r} is not a completion this world produces for that prompt")
        return ev

    def _sentence(self, rng: np.random.Generator, event: _Event) -> tuple[str, bool]:
        injurious, family, outcome = event
        p = self.understanding_of(family) if injurious else self.false_alarm
        if rng.random() < p:
            pool = DEATH_AFTERMATH if outcome == "death" else INJURY_AFTERMATH
            return pool[int(rng.integers(len(pool)))], True
        return NEUTRAL_AFTERMATH[int(rng.integers(len(NEUTRAL_AFTERMATH)))], False

    def generate(self, prompts: Sequence[PromptLike], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        """``n`` aftermath continuations per registered pair's context (``seed`` None means 0).

        Raises:
            ValueError: for text that is not a StoryWorld pair of this world, or bad ``n``.
        """
        if isinstance(prompts, str):
            raise ValueError("prompts must be a sequence of strings, not a single string")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = np.random.default_rng(0 if seed is None else seed)
        out: list[list[Completion]] = []
        for text in prompts:
            ev = self.event(*self.split(prompt_text(text)))
            row = []
            for _ in range(n):
                sentence, inj = self._sentence(rng, ev)
                meta = {"injurious": inj, "source_injurious": ev[0], "family": ev[1], "outcome": ev[2]}
                row.append(Completion(" " + sentence, None, meta))
            out.append(row)
        return out
