"""Compile human-readable templates into positional ``str.format`` strings.

Why: the fast path renders ~10^5 sentences per second, so each sentence must cost one
``fmt.format(*ctx)`` call on a precomputed tuple ``ctx`` of scene strings. Alternations are
expanded once, at world construction, into every variant; slots become ``{k}`` positions in ``ctx``;
capitalisation at sentence starts is resolved at compile time by choosing the capitalised column.
"""

from __future__ import annotations

import itertools
import re

#: Per-entity fields: name, subject, object, possessive, reflexive pronouns, genitive, was/were.
ENTITY_FIELDS: tuple[str, ...] = ("", "s", "o", "p", "r", "g", "were")


def _layout() -> dict[str, tuple[int, int]]:
    """Slot name -> (index of lower-case form, index of capitalised form) in a context tuple.

    Context layout: victim (7 lower + 7 capitalised), agent (same), weapon (w, W),
    injury (i, ib, I, IB), place (pl, pp, PL, PP), object (ob, OB).
    """
    out: dict[str, tuple[int, int]] = {}
    n = len(ENTITY_FIELDS)
    for base, prefix in ((0, "v"), (2 * n, "a")):
        for k, f in enumerate(ENTITY_FIELDS):
            out[prefix + f] = (base + k, base + n + k)
    b = 4 * n
    out["w"] = (b, b + 1)
    out["i"], out["ib"] = (b + 2, b + 4), (b + 3, b + 5)
    out["pl"], out["pp"] = (b + 6, b + 8), (b + 7, b + 9)
    out["ob"] = (b + 10, b + 11)
    return out


SLOTS: dict[str, tuple[int, int]] = _layout()
CTX_LEN: int = 4 * len(ENTITY_FIELDS) + 12

_ALT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")
_VICTIM_SLOTS = ("v", "vg")


def cap(s: str) -> str:
    """Capitalise the first character only ("the troll" -> "The troll", "iPad" stays)."""
    return s[:1].upper() + s[1:] if s else s


def expand(template: str) -> list[str]:
    """Every variant of ``template`` with ``[a|b]`` alternations resolved, tidied."""
    parts = _ALT.split(template)
    # _ALT.split alternates literal text and group contents; groups are at odd positions.
    choices = [[p] if k % 2 == 0 else p.split("|") for k, p in enumerate(parts)]
    out = []
    for combo in itertools.product(*choices):
        s = "".join(combo)
        s = re.sub(r" {2,}", " ", s)
        s = re.sub(r" ([,.;!?])", r"\1", s).strip()
        out.append(s)
    return out


def _is_sentence_start(prefix: str) -> bool:
    p = prefix.rstrip()
    return p == "" or p[-1] in ".!?"


def compile_variant(text: str) -> str:
    """Turn one expanded variant into a positional format string.

    Raises:
        ValueError: for an unknown slot name (a typo in a template).
    """
    out: list[str] = []
    pos = 0
    rendered_prefix = ""
    for m in _SLOT.finditer(text):
        lit = text[pos : m.start()]
        if _is_sentence_start(rendered_prefix) and lit[:1].isalpha():
            lit = cap(lit)
        out.append(lit.replace("{", "{{").replace("}", "}}"))
        rendered_prefix += lit
        name = m.group(1)
        if name not in SLOTS:
            raise ValueError(f"unknown template slot {{{name}}} in {text!r}; known slots: {sorted(SLOTS)}")
        lo, hi = SLOTS[name]
        out.append("{" + str(hi if _is_sentence_start(rendered_prefix) else lo) + "}")
        rendered_prefix += "X"  # a non-terminal placeholder: what follows a slot is mid-sentence
        pos = m.end()
    lit = text[pos:]
    if _is_sentence_start(rendered_prefix) and lit[:1].isalpha():
        lit = cap(lit)
    out.append(lit.replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def compile_template(template: str, require_victim: bool = False) -> list[str]:
    """All variants of ``template`` as positional format strings.

    Args:
        template: text in the StoryWorld template syntax.
        require_victim: check that every variant mentions the victim by name.

    Raises:
        ValueError: when ``require_victim`` and a variant never names the victim.
    """
    out = []
    for variant in expand(template):
        if require_victim and not any("{" + s + "}" in variant for s in _VICTIM_SLOTS):
            raise ValueError(f"completion template variant {variant!r} never names the victim ({{v}} or {{vg}})")
        out.append(compile_variant(variant))
    return out
