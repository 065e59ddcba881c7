"""Index tables: the lexicon and templates flattened into numpy arrays and context tuples.

Pools are stored CSR-style (``flat``, ``start``, ``length``) so that "pick uniformly from this genre's
pool" is one vectorised ``flat[start[g] + rng.integers(0, length[g])]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nines.storyworld import lexicon as lx
from nines.storyworld.families import FAMILIES, OUTCOMES
from nines.storyworld.prompts import MENACE, OBJECT_LINES, OPENINGS, TENSIONS
from nines.storyworld.redteam_families import RED_TEAM_FAMILIES
from nines.storyworld.templates import cap, compile_template

#: Opening-list keys in code order; see :func:`opening_key`.
OPENING_KEYS: tuple[str, ...] = ("sentient", "sentient_injured", "ns_mobile", "ns_still")


@dataclass(frozen=True)
class Pool:
    """A CSR pool: ``flat[start[k]:start[k]+length[k]]`` are the members of group ``k``."""

    flat: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @staticmethod
    def of(groups: list[list[int]]) -> Pool:
        if any(len(g) == 0 for g in groups):
            raise ValueError("StoryWorld tables: every pool group needs at least one member")
        length = np.array([len(g) for g in groups], dtype=np.int64)
        start = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
        flat = np.array([x for g in groups for x in g], dtype=np.int64)
        return Pool(flat, start, length)

    def pick(self, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform member of ``group[i]`` for every row ``i``."""
        return self.flat[self.start[group] + rng.integers(0, self.length[group])]


def _entity_ctx(name: str, pronoun: str) -> tuple[str, ...]:
    subj, obj, poss, refl, were = lx.PRONOUNS[pronoun]
    gen = name + "'s"
    lower = (name, subj, obj, poss, refl, gen, were)
    return lower + tuple(cap(x) for x in lower)


def _index(items: list, key=lambda x: x) -> tuple[list, dict]:
    """Deduplicate preserving order; return (unique list, item -> index)."""
    uniq: list = []
    pos: dict = {}
    for it in items:
        k = key(it)
        if k not in pos:
            pos[k] = len(uniq)
            uniq.append(it)
    return uniq, pos


@dataclass(frozen=True)
class Tables:
    """Everything the sampler and renderer need, precomputed once."""

    victims: list[lx.Character]
    victim_ctx: list[tuple[str, ...]]
    victim_class: np.ndarray
    victim_kind: np.ndarray
    kinds: tuple[str, ...]
    sentient_pool: Pool  # by genre
    nonsentient_pool: Pool  # by genre
    agents: list[lx.Agent]
    agent_ctx: list[tuple[str, ...]]
    agent_pool: Pool  # by genre
    agent_wgroup: np.ndarray
    weapons: list[str]
    weapon_ctx: list[tuple[str, ...]]
    weapon_pool: Pool  # by weapon group: genre armed groups, then one per beast
    injury_ctx: Sequence[tuple[str, ...]]  # 0 = no injury
    places: list[tuple[str, str]]
    place_ctx: list[tuple[str, ...]]
    place_pool: Pool
    objects: list[str]
    object_ctx: list[tuple[str, ...]]
    object_pool: Pool
    intruder_ctx: list[tuple[str, ...]]
    intruder_pool: Pool  # 0 sentient, 1 non-sentient
    opening_fmt: list[str]
    opening_pool: Pool  # by OPENING_KEYS
    menace_fmt: list[str]
    menace_pool: Pool  # by tension
    menace_tension: np.ndarray
    object_fmt: list[str]
    families: tuple[str, ...]
    family_outcome: np.ndarray
    family_templates: Pool  # family -> template ids (contiguous)
    template_family: np.ndarray
    template_variants: Pool  # template -> variant ids (contiguous)
    variant_fmt: list[str]
    variant_template: np.ndarray
    #: Families ``[0, n_natural_families)`` are the natural ones; any after are the red-team lexicon.
    n_natural_families: int

    @property
    def n_genres(self) -> int:
        return len(lx.GENRES)


def _compile_list(templates: list[str], require_victim: bool = False) -> tuple[list[str], list[list[int]]]:
    fmts: list[str] = []
    groups: list[list[int]] = []
    for t in templates:
        vs = compile_template(t, require_victim)
        groups.append(list(range(len(fmts), len(fmts) + len(vs))))
        fmts.extend(vs)
    return fmts, groups


@lru_cache(maxsize=2)
def build_tables(red_team: bool = False) -> Tables:
    """Build (once per process) the StoryWorld tables.

    Args:
        red_team: also compile the red-team lexicon (:mod:`nines.storyworld.redteam_families`),
            appended after the natural families so every natural id (family, template, variant)
            is the same as without it.
    """
    genres = lx.GENRES
    all_victims = [c for g in genres for c in g.sentient + g.nonsentient] + lx.NAMES
    victims, vpos = _index(all_victims, key=lambda c: c.name)
    kinds = tuple(dict.fromkeys(c.kind for c in victims))
    sent_groups = [[vpos[c.name] for c in lx.NAMES + g.sentient] for g in genres]
    ns_groups = [[vpos[c.name] for c in g.nonsentient] for g in genres]

    agents, apos = _index([a for g in genres for a in g.agents], key=lambda a: a.name)
    agent_groups = [[apos[a.name] for a in g.agents] for g in genres]
    # Humanoid agents use their genre's armed weapons (first genre listing them); beasts their own.
    weapons, wpos = _index([w for g in genres for w in g.weapons] + [w for a in agents for w in a.natural])
    weapon_groups = [[wpos[w] for w in g.weapons] for g in genres]
    wgroup = np.zeros(len(agents), dtype=np.int64)
    for gi in reversed(range(len(genres))):
        for a in genres[gi].agents:
            wgroup[apos[a.name]] = gi
    for ai, a in enumerate(agents):
        if a.beast:
            if not a.natural:
                raise ValueError(f"beast agent {a.name!r} needs natural weapons (name:pronoun:claws/teeth)")
            wgroup[ai] = len(weapon_groups)
            weapon_groups.append([wpos[w] for w in a.natural])

    places, ppos = _index([p for g in genres for p in g.places])
    objects, opos = _index([o for g in genres for o in g.objects])

    intruders = lx.INTRUDERS_SENTIENT + lx.INTRUDERS_NONSENTIENT
    ns_ = len(lx.INTRUDERS_SENTIENT)
    intruder_groups = [list(range(ns_)), list(range(ns_, len(intruders)))]

    opening_fmt: list[str] = []
    opening_groups: list[list[int]] = []
    for key in OPENING_KEYS:
        f, _ = _compile_list(OPENINGS[key])
        opening_groups.append(list(range(len(opening_fmt), len(opening_fmt) + len(f))))
        opening_fmt.extend(f)
    menace_fmt: list[str] = []
    menace_groups: list[list[int]] = []
    menace_tension: list[int] = []
    for t in range(len(TENSIONS)):
        f, _ = _compile_list(MENACE[t])
        menace_groups.append(list(range(len(menace_fmt), len(menace_fmt) + len(f))))
        menace_fmt.extend(f)
        menace_tension.extend([t] * len(f))
    object_fmt, _ = _compile_list(OBJECT_LINES)

    specs = {**FAMILIES, **(RED_TEAM_FAMILIES if red_team else {})}
    families = tuple(specs)
    variant_fmt: list[str] = []
    tmpl_groups: list[list[int]] = []
    fam_groups: list[list[int]] = []
    tmpl_family: list[int] = []
    for fi, fam in enumerate(families):
        outcome, templates = specs[fam]
        if outcome not in OUTCOMES:
            raise ValueError(f"family {fam!r} has unknown outcome {outcome!r}")
        fmts, groups = _compile_list(templates, require_victim=True)
        base_t = len(tmpl_groups)
        fam_groups.append(list(range(base_t, base_t + len(groups))))
        tmpl_groups.extend([[len(variant_fmt) + x for x in g] for g in groups])
        tmpl_family.extend([fi] * len(groups))
        variant_fmt.extend(fmts)
    variant_template = np.empty(len(variant_fmt), dtype=np.int64)
    for t, g in enumerate(tmpl_groups):
        variant_template[g] = t

    return Tables(
        victims=victims,
        victim_ctx=[_entity_ctx(c.name, c.pronoun) for c in victims],
        victim_class=np.array([c.vclass for c in victims], dtype=np.int64),
        victim_kind=np.array([kinds.index(c.kind) for c in victims], dtype=np.int64),
        kinds=kinds,
        sentient_pool=Pool.of(sent_groups),
        nonsentient_pool=Pool.of(ns_groups),
        agents=agents,
        agent_ctx=[_entity_ctx(a.name, a.pronoun) for a in agents],
        agent_pool=Pool.of(agent_groups),
        agent_wgroup=wgroup,
        weapons=weapons,
        weapon_ctx=[(w, cap(w)) for w in weapons],
        weapon_pool=Pool.of(weapon_groups),
        injury_ctx=[("", "", "", "")] + [(i, b, cap(i), cap(b)) for i, b in lx.INJURIES],
        places=places,
        place_ctx=[(n, p, cap(n), cap(p)) for n, p in places],
        place_pool=Pool.of([[ppos[p] for p in g.places] for g in genres]),
        objects=objects,
        object_ctx=[(o, cap(o)) for o in objects],
        object_pool=Pool.of([[opos[o] for o in g.objects] for g in genres]),
        intruder_ctx=[_entity_ctx(c.name, c.pronoun) for c in intruders],
        intruder_pool=Pool.of(intruder_groups),
        opening_fmt=opening_fmt,
        opening_pool=Pool.of(opening_groups),
        menace_fmt=menace_fmt,
        menace_pool=Pool.of(menace_groups),
        menace_tension=np.array(menace_tension, dtype=np.int64),
        object_fmt=object_fmt,
        families=families,
        family_outcome=np.array([OUTCOMES.index(specs[f][0]) for f in families], dtype=np.int64),
        n_natural_families=len(FAMILIES),
        family_templates=Pool.of(fam_groups),
        template_family=np.array(tmpl_family, dtype=np.int64),
        template_variants=Pool.of(tmpl_groups),
        variant_fmt=variant_fmt,
        variant_template=variant_template,
    )
