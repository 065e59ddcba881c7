"""The third-party dev set: verbatim real-prose pairs rebuilt from ``../shared`` at run time.

The pairs come from two public files in the shared folder (see ``/work/shared/README.md``):
``tinystories_dev.txt`` (children's stories) and ``grimm_dev.txt`` (Grimms' Fairy Tales, Project
Gutenberg #2591). Their text must never enter this repository, so the package ships only
**references** (``nines/data/devset/refs.jsonl``), one JSON object a line::

    {"file": "grimm_dev.txt", "sentence": 1234, "context": 2, "label": "injurious",
     "kind": "death", "reason": "<one line>", "sha1": "<first 10 hex of sha1(completion)>"}

``sentence`` is the index of the completion in that file's sentence list (:func:`file_sentences`);
the prompt is the ``context`` (1-3) sentences before it, which must lie in the same **unit**.
:func:`load_devset` splits the files again and rebuilds every pair; the ``sha1`` catches a changed
file or a changed splitter, which would otherwise silently shift every label onto the wrong text.

How the files are cut is described in ``docs/labelling.md`` ("The third-party dev set"). In short:
the prompt and completion always come from one **unit** (a TinyStories story, found from its
opening words; a Grimm tale or numbered section); TinyStories text is used exactly as it stands,
Grimm's hard-wrapped text after :func:`normalise_ws` (so "verbatim" means verbatim up to
whitespace); sentences end at ``.``/``!``/``?`` plus closing quotes when the next word is not in
lower case and the word is not an abbreviation, never inside double-quoted speech (TinyStories);
Grimm is split without quote tracking, since its single quotes double as apostrophes.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from nines.shared import shared_dir  # noqa: F401 - re-exported: callers import it from here

TINYSTORIES = "tinystories_dev.txt"
GRIMM = "grimm_dev.txt"
FILES: tuple[str, ...] = (TINYSTORIES, GRIMM)

#: Outcome kinds: the seed set's vocabulary plus ``hypothetical`` and ``pretence`` (as in the
#: real-prose corpus). The first four are the injurious ones.
INJURIOUS_KINDS: tuple[str, ...] = ("explicit_injury", "death", "indirect_injury", "worsened_injury")
SAFE_KINDS: tuple[str, ...] = (
    "near_miss", "object_damage", "metaphor", "hurt_feelings", "sickness", "past_injury", "threat",
    "neutral", "hypothetical", "pretence",
)
KINDS: tuple[str, ...] = INJURIOUS_KINDS + SAFE_KINDS
REF_KEYS: tuple[str, ...] = ("file", "sentence", "context", "label", "kind", "reason", "sha1")
MAX_REASON = 160

_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "prof", "capt", "col", "gen"})
_TERMINAL = ".!?"
_CLOSERS = "\"”'’)]"


class DevsetError(ValueError):
    """A reference is malformed or no longer matches the shared files."""


class DevsetUnavailable(FileNotFoundError):
    """The shared folder (``../shared``) or one of its dev-set files is absent."""


@dataclass(frozen=True)
class Sentence:
    """One sentence of a shared file: its text, its unit's index, and its offsets in the unit's text."""

    text: str
    unit: int
    start: int
    end: int


@dataclass(frozen=True)
class DevPair:
    """One rebuilt dev-set pair.

    Attributes:
        prompt: the ``context`` sentences before the completion, as they stand in the unit.
        completion: the sentence under judgement.
        label: ``injurious`` or ``safe`` (by ``docs/labelling.md``).
        kind: the outcome kind (:data:`KINDS`).
        reason: one line saying why.
        file: the shared file's name.
        sentence: the completion's index in :func:`file_sentences`.
        context: how many sentences form the prompt.
    """

    prompt: str
    completion: str
    label: str
    kind: str
    reason: str
    file: str
    sentence: int
    context: int

    @property
    def injurious(self) -> bool:
        """Whether the pair is labelled injurious."""
        return self.label == "injurious"


def refs_path() -> pathlib.Path:
    """The packaged reference file."""
    return pathlib.Path(str(resources.files("nines.data") / "devset" / "refs.jsonl"))


def sha1_10(text: str) -> str:
    """First 10 hex digits of the SHA-1 of ``text`` (UTF-8)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def normalise_ws(text: str) -> str:
    """Runs of whitespace (line breaks included) become one space; the ends are stripped."""
    return re.sub(r"\s+", " ", text).strip()


def _quotes_balanced(text: str) -> bool:
    return text.count('"') % 2 == 0 and text.count("“") == text.count("”")


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    m = re.search(r"([A-Za-z]+)$", text[:dot])
    return m is not None and m.group(1).lower() in _ABBREVIATIONS


def _scan_closers(text: str, k: int, in_quote: bool) -> tuple[int, bool]:
    """Move past closing quotes/brackets after terminal punctuation; a double quote here closes speech."""
    n = len(text)
    while k < n and text[k] in _CLOSERS:
        if text[k] in "'’" and k + 1 < n and not (text[k + 1].isspace() or text[k + 1] in _CLOSERS):
            break  # an apostrophe opening the next word, not a closing quote
        if text[k] in '"”':
            in_quote = False
        k += 1
    return k, in_quote


def split_sentences(text: str, track_quotes: bool = True) -> list[tuple[int, int]]:
    """Split one paragraph into sentences, as ``(start, end)`` offsets into ``text``.

    Args:
        text: one paragraph.
        track_quotes: never end a sentence inside double-quoted speech (off when the paragraph's
            double quotes do not balance, since the speech boundaries are then unknown).

    Returns:
        Non-overlapping spans covering every non-space character of ``text``, in order.
    """
    track = track_quotes and _quotes_balanced(text)
    spans: list[tuple[int, int]] = []
    n, i, in_quote = len(text), 0, False
    start = len(text) - len(text.lstrip())
    while i < n:
        c = text[i]
        if track and c in '"“”':
            in_quote = (not in_quote) if c == '"' else (c == "“")
        if c not in _TERMINAL:
            i += 1
            continue
        j = i
        while j < n and text[j] in _TERMINAL:
            j += 1
        k, closed = _scan_closers(text, j, in_quote if track else False)
        if track:
            in_quote = closed
        if k < n and not text[k].isspace():
            i = k if k > i else i + 1
            continue
        m = k
        while m < n and text[m].isspace():
            m += 1
        if m < n and (in_quote or text[m].islower() or (j - i == 1 and text[i] == "."
                                                       and _ends_with_abbreviation(text, i))):
            i = k
            continue
        spans.append((start, k))
        start, i = m, m
    if start < n and text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


@dataclass(frozen=True)
class Unit:
    """One unit (a TinyStories story, a Grimm tale or tale section) and its paragraphs.

    Attributes:
        text: the unit's text (tinystories: a verbatim slice of the file; grimm: its paragraphs
            whitespace-normalised and joined by single spaces).
        paragraphs: ``(start, end)`` offsets of each paragraph in ``text``.
    """

    text: str
    paragraphs: tuple[tuple[int, int], ...]


def _paragraph_spans(raw: str) -> list[tuple[int, int]]:
    """Offsets of the blocks of ``raw`` separated by blank lines, each stripped at both ends."""
    spans, pos = [], 0
    for block in re.split(r"(\n[ \t]*\n)", raw):
        if block.strip() and not re.fullmatch(r"\n[ \t]*\n", block):
            lead = len(block) - len(block.lstrip())
            spans.append((pos + lead, pos + len(block.rstrip())))
        pos += len(block)
    return spans


_STORY_START = re.compile(r"(Once upon a time|Once there|There once)")
_STORY_END = re.compile(r"(The end\.?|The moral of the story\b.*)$", re.DOTALL)


def tinystories_units(raw: str) -> list[Unit]:
    """TinyStories stories: a story starts at a paragraph opening "Once upon a time" (or "Once there",
    "There once") or right after a "The end." / "The moral of the story" paragraph; verbatim."""
    groups: list[list[tuple[int, int]]] = []
    for s, e in _paragraph_spans(raw):
        para = raw[s:e]
        new = not groups or _STORY_START.match(para) or _STORY_END.match(raw[groups[-1][-1][0]:groups[-1][-1][1]])
        if new:
            groups.append([])
        groups[-1].append((s, e))
    units = []
    for g in groups:
        base = g[0][0]
        units.append(Unit(raw[base:g[-1][1]], tuple((s - base, e - base) for s, e in g)))
    return units


def _grimm_body(raw: str) -> str:
    raw = raw.replace("\r\n", "\n")
    end = raw.find("*** END OF")
    if end < 0:
        end = raw.find("End of Project Gutenberg")
    body = raw[:end] if end >= 0 else raw
    contents = re.search(r"^CONTENTS:\s*\n\s*\n?\s*(\S.*)$", body, re.MULTILINE)
    if contents is None:
        raise DevsetError("grimm_dev.txt: no 'CONTENTS:' list found, so the first tale cannot be located")
    first_title = contents.group(1).strip()
    first = re.search(rf"^{re.escape(first_title)}[ \t]*$", body[contents.end():], re.MULTILINE)
    if first is None:
        raise DevsetError(f"grimm_dev.txt: the first tale title {first_title!r} does not appear after CONTENTS")
    return body[contents.end() + first.start():]


def grimm_units(raw: str) -> list[Unit]:
    """Grimm tales (a numbered sub-title starts a new section), whitespace-normalised."""
    body = _grimm_body(raw)
    groups: list[list[str]] = []
    for s, e in _paragraph_spans(body):
        text = normalise_ws(body[s:e])
        if not re.search(r"[a-z]", text):
            groups.append([])  # an upper-case title or sub-title starts a new unit
        elif not text.startswith("["):  # editorial notes are not prose
            if not groups:
                groups.append([])
            groups[-1].append(text)
    units = []
    for paras in (g for g in groups if g):
        spans, pos = [], 0
        for p in paras:
            spans.append((pos, pos + len(p)))
            pos += len(p) + 1
        units.append(Unit(" ".join(paras), tuple(spans)))
    return units


def file_units(name: str, raw: str) -> list[Unit]:
    """The units (stories, tales) of a shared file, by its name."""
    if name == TINYSTORIES:
        return tinystories_units(raw)
    if name == GRIMM:
        return grimm_units(raw)
    raise DevsetError(f"unknown dev-set file {name!r}; expected one of {', '.join(FILES)}")


def file_sentences(name: str, raw: str) -> list[Sentence]:
    """Every sentence of a shared file, in order; the list index is a reference's ``sentence``."""
    out: list[Sentence] = []
    for u, unit in enumerate(file_units(name, raw)):
        for ps, pe in unit.paragraphs:
            for s, e in split_sentences(unit.text[ps:pe], track_quotes=(name == TINYSTORIES)):
                out.append(Sentence(unit.text[ps + s:ps + e], u, ps + s, ps + e))
    return out


def _require_shared(shared: str | pathlib.Path | None) -> pathlib.Path:
    base = pathlib.Path(shared) if shared is not None else shared_dir()
    hint = ("the dev set is rebuilt from the third-party files in ../shared/data/ beside the checkout "
            "(or $NINES_SHARED); it is not shipped, so it is unavailable on this machine")
    if base is None or not base.is_dir():
        raise DevsetUnavailable(f"shared folder not found ({base or '../shared'}): {hint}")
    missing = [f for f in FILES if not (base / "data" / f).is_file()]
    if missing:
        raise DevsetUnavailable(f"{base}/data lacks {', '.join(missing)}: {hint}")
    return base


def read_source(name: str, shared: str | pathlib.Path | None = None) -> str:
    """The raw text of one shared file (raises :class:`DevsetUnavailable` when absent)."""
    return (_require_shared(shared) / "data" / name).read_text(encoding="utf-8")


def _check_ref(obj: Any, lineno: int) -> dict[str, Any]:
    where = f"refs.jsonl line {lineno}"
    if not isinstance(obj, dict) or set(obj) != set(REF_KEYS):
        raise DevsetError(f"{where}: a reference has exactly the keys {', '.join(REF_KEYS)}")
    if obj["file"] not in FILES:
        raise DevsetError(f"{where}: unknown file {obj['file']!r}")
    if not isinstance(obj["sentence"], int) or obj["sentence"] < 0:
        raise DevsetError(f"{where}: 'sentence' must be a non-negative integer")
    if obj["context"] not in (1, 2, 3):
        raise DevsetError(f"{where}: 'context' must be 1, 2 or 3")
    if obj["kind"] not in KINDS:
        raise DevsetError(f"{where}: unknown kind {obj['kind']!r}")
    expected = "injurious" if obj["kind"] in INJURIOUS_KINDS else "safe"
    if obj["label"] != expected:
        raise DevsetError(f"{where}: label {obj['label']!r} contradicts kind {obj['kind']!r}")
    if not isinstance(obj["reason"], str) or not obj["reason"].strip() or len(obj["reason"]) > MAX_REASON:
        raise DevsetError(f"{where}: 'reason' must be one non-empty line of at most {MAX_REASON} characters")
    return obj


def read_refs(path: str | pathlib.Path | None = None) -> list[dict[str, Any]]:
    """The validated references (no third-party text; works without ``../shared``)."""
    p = pathlib.Path(path) if path is not None else refs_path()
    refs = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            refs.append(_check_ref(json.loads(line), lineno))
    return refs


def rebuild(ref: dict[str, Any], sentences: list[Sentence], units: list[Unit]) -> DevPair:
    """Rebuild one reference against a file's sentences; raises :class:`DevsetError` on any mismatch."""
    where = f"{ref['file']} sentence {ref['sentence']}"
    i, ctx = ref["sentence"], ref["context"]
    if i >= len(sentences) or i - ctx < 0:
        raise DevsetError(f"{where}: out of range ({len(sentences)} sentences); the file or splitter changed")
    comp, first = sentences[i], sentences[i - ctx]
    if first.unit != comp.unit:
        raise DevsetError(f"{where}: its {ctx} context sentences reach outside its story or tale")
    if sha1_10(comp.text) != ref["sha1"]:
        raise DevsetError(f"{where}: sha1 mismatch ({sha1_10(comp.text)} != {ref['sha1']}); "
                          "the shared file or the sentence splitter changed, so the labels no longer fit")
    prompt = units[comp.unit].text[first.start:sentences[i - 1].end]
    return DevPair(prompt=prompt, completion=comp.text, label=ref["label"], kind=ref["kind"],
                   reason=ref["reason"], file=ref["file"], sentence=i, context=ctx)


def load_devset(shared: str | pathlib.Path | None = None,
                refs: str | pathlib.Path | None = None) -> list[DevPair]:
    """Rebuild every dev-set pair from the shared files.

    Args:
        shared: the shared folder (default :func:`shared_dir`).
        refs: the reference file (default the packaged one).

    Raises:
        DevsetUnavailable: the shared folder or a file in it is absent.
        DevsetError: a reference is malformed or does not match the file any more.
    """
    base = _require_shared(shared)
    parsed: dict[str, tuple[list[Sentence], list[Unit]]] = {}
    pairs = []
    for ref in read_refs(refs):
        if ref["file"] not in parsed:
            raw = read_source(ref["file"], base)
            parsed[ref["file"]] = (file_sentences(ref["file"], raw), file_units(ref["file"], raw))
        pairs.append(rebuild(ref, *parsed[ref["file"]]))
    return pairs


def to_snippets(pairs: list[DevPair]) -> list[Any]:
    """The pairs as :class:`~nines.data.record.Snippet` objects (source ``devset``, split ``test``)."""
    from nines.data.record import Label, Snippet

    return [Snippet(prompt=p.prompt, completion=p.completion, label=Label(p.label), source="devset",
                    labeller="devset-authors", split="test",
                    metadata={"file": p.file, "sentence": p.sentence, "kind": p.kind}) for p in pairs]
