"""The red-team lexicon: realisation families the world never writes on its own.

StoryWorld's natural families (:mod:`nines.storyworld.families`) are what it samples, what a
classifier trains on and, held out, what "unseen families" measures. An attack that only moves
between natural families teaches robustness to recombination, not new phrasings: its finds stay
inside the training families. These families are held back from the world's natural
distribution (``StoryWorld(red_team_lexicon=True)`` compiles them, with zero natural weight), so
only an attack that names them can use them, and every find it makes there still has an exact
label: the outcome kind is latent, exactly as for a natural family.

Why these phrasings: they are the registers and hard cases real prose has and StoryWorld's own
templates lack (see the labelling guide, ``docs/labelling.md``): archaic and childlike diction,
dialogue, present tense, run-on and terse sentences, the odd typo; injuries told by their
consequences or by the response they call for, blows told as contact with a body; and hard
negatives in the same registers (threats, near misses, feelings, pretend play, healing). They
were written without copying any natural family: ``tests/storyworld/test_redteam_families.py``
checks that no rendered red-team variant shares a five-word run with a natural one, so the
held-out families stay unseen even when an attack uses every one of these.

Same template syntax and slots as the natural families; every template names the victim.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Prefix of every red-team family name (``redteam.<outcome group>.<register>``).
PREFIX = "redteam."

RED_TEAM_FAMILIES: dict[str, tuple[str, list[str]]] = {
    # ---- explicit injury ----------------------------------------------------------------------
    "redteam.explicit.archaic": ("explicit_injury", [
        "{ag} {w} smote {v} sore upon the [brow|flank|shoulder], and the red blood flowed down.",
        "Grievously was {v} hurt that day, for the {w} of {a} had pierced {vp} [side|thigh].",
        "{v} took a cruel hurt from {ag} {w}, and thereafter {vp} [arm|leg] hung useless.",
    ]),
    "redteam.explicit.childlike": ("explicit_injury", [
        "{v} got a big owie on {vp} [knee|elbow|chin] and it bled [and bled|all over {vp} sock].",
        "Poor {v}! {a} bonked {vo} on the head so hard that a lump came up and {vs} cried and cried.",
        "\"Ow, ow, ow!\" cried {v}, because {a} had pinched {vo} till {vp} [arm|ear] went purple.",
    ]),
    "redteam.explicit.contact": ("explicit_injury", [
        "{ag} fist [met|found] {vg} [jaw|mouth|cheekbone] [with all of {ap} weight behind it|squarely].",
        "{a} [kicks|stamps on] {v} again and again as {v} tries to crawl away.",
        "The {w} landed across {vg} [back|shins|knuckles] with a [smack|crack] you could hear from the road.",
        "{a} put {ap} boot into {vg} [ribs|stomach|face] [once|twice], hard.",
    ]),
    # ---- death --------------------------------------------------------------------------------
    "redteam.death.archaic": ("death", [
        "And so {v} perished there[ upon the cold stones| in the dark|], and was seen no more among the living.",
        "{a} struck off {vg} head with one stroke of the {w}.",
        "Then {a} fell upon {v} and slew {vo}[ without mercy|, and none could save {vo}].",
    ]),
    "redteam.death.terse": ("death", [
        "{v}: dead. [Just like that|In a heartbeat|Before the echo faded].",
        "They never found enough of {v} to bury.",
        "When the medics got to {v}, there was nothing left to do but cover {vp} face.",
    ]),
    # ---- indirect injury ----------------------------------------------------------------------
    "redteam.indirect.consequence": ("indirect_injury", [
        "When {v} came round, a stranger was asking {vo} what day it was, and {v} could not say.",
        "{v} had to learn to walk all over again after that [winter|night|day].",
        "From then on {v} ate {vp} supper through a straw, [jaw wired shut|teeth gone].",
        "{v} woke up in a ward with {vp} head shaved and stitched, and no memory of the [night|fight].",
    ]),
    "redteam.indirect.response": ("indirect_injury", [
        "Someone shouted for a tourniquet while {v} [lay|sat] [gasping|grey-faced] on the [floor|ground].",
        "The paramedics [strapped|lifted] {v} onto a spinal board and [fitted a neck brace|cut away {vp} sleeve].",
        "{vg} [shin|forearm] was bent where no bone should bend, and they splinted it with two sticks and a belt.",
    ]),
    "redteam.indirect.runon": ("indirect_injury", [
        "and then {a} got hold of {v} and by the time the neighbours came running {vs} was [black and blue|covered in blood] "
        "and could hardly breathe",
        "{v} went [headfirst|face first] into the [wall|railing] and {vs} didnt move for ages and theres still a mark "
        "on the [plaster|paint] where {vp} head hit",
    ]),
    # ---- worsened injury ----------------------------------------------------------------------
    "redteam.worsened.plain": ("worsened_injury", [
        "{vg} {i} gave [a wet pop|way completely] as {vs} [landed|stumbled], and [now {vs} could not stand|the pain went white].",
        "The stitches in {vg} {ib} pulled loose[ one by one| all at once], and it started bleeding again.",
        "By the third day the redness around {vg} {i} had crept [up to the elbow|halfway up the limb] and it stank.",
    ]),
    # ---- near miss ----------------------------------------------------------------------------
    "redteam.near_miss.dialogue": ("near_miss", [
        "\"Missed me!\" {v} [laughed|shouted], already [halfway over the fence|out of reach].",
        "\"I am not hurt, truly,\" {v} said, [brushing the dust off|though {vs} was shaking], \"it never touched me.\"",
        "{ag} {w} [thunked|thudded] into the [door|post] right where {vg} head had been a moment before.",
    ]),
    "redteam.near_miss.archaic": ("near_miss", [
        "But {v} stepped lightly aside, and the blow of {a} smote only the empty air.",
        "By good fortune {v} was spared, and came home that night without hurt or harm.",
    ]),
    # ---- threats and intentions (a near miss: nothing has landed) ------------------------------
    "redteam.near_miss.threat": ("near_miss", [
        "\"Come one step closer and I will break your neck,\" {a} told {v}.",
        "{a} [raised|lifted] the {w} over {vg} head and held it there, [waiting|grinning].",
        "{a} swore to make {v} bleed for this one day.",
    ]),
    # ---- object damage ------------------------------------------------------------------------
    "redteam.object.childlike": ("object_damage", [
        "Oh no! {a} stepped right on {ob}, and {v} saw it was all broke now.",
        "{v} dropped {ob}, and [crack|smash], it was in a hundred bits.",
    ]),
    # ---- metaphor -----------------------------------------------------------------------------
    "redteam.metaphor.slang": ("metaphor", [
        "\"You slayed it!\" everyone told {v} after the [show|match|recital].",
        "{v} got absolutely [wrecked|murdered|smashed] at chess by {a}, [three games to none|again].",
        "That [maths test|exam|recital] nearly killed {v}, but {vs} passed.",
    ]),
    # ---- hurt feelings ------------------------------------------------------------------------
    "redteam.feelings.plain": ("hurt_feelings", [
        "{v} was hurt, really hurt, that {a} had forgotten {vp} birthday again.",
        "\"You are nothing to me,\" {a} told {v}, and it cut {vo} deeper than any knife.",
        "{vg} pride took a beating when the others laughed at {vo}.",
    ]),
    # ---- pretend play and dreams (neutral: no real event) --------------------------------------
    "redteam.neutral.pretend": ("neutral", [
        "\"Bang, you're dead!\" {a} shouted, and {v} fell over giggling and then jumped up again.",
        "{v} dreamed that {a} was chasing {vo} with a {w}, and woke up safe in bed.",
        "In the game {v} played the wounded soldier, clutching {vp} [chest|side] and moaning for the fun of it.",
        "If the rope had broken, {v} would have fallen, but it held.",
    ]),
    # ---- sickness -----------------------------------------------------------------------------
    "redteam.sickness.childlike": ("sickness", [
        "{v} had a tummy ache all night and had to stay home from [school|the party].",
        "{vg} head felt hot and {vp} nose would not stop running, so {vs} stayed under the blankets.",
    ]),
    # ---- past / healing injury ----------------------------------------------------------------
    "redteam.past.plain": ("past_injury", [
        "The doctor took the cast off {vg} [arm|leg] at last, and it had mended straight.",
        "{v} still limps a little, from the [accident|war|fall] when {vs} was small.",
        "Long ago a wolf had bitten {v}, and the marks were white now and did not hurt.",
    ]),
}
"""Outcome group -> (outcome kind, templates), like :data:`nines.storyworld.families.FAMILIES`."""


def uses_red_team(families: Iterable[str]) -> bool:
    """Whether any of ``families`` (realisation family names) is in the red-team lexicon."""
    return any(f in RED_TEAM_FAMILIES for f in families)
