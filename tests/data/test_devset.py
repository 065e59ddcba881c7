"""The third-party dev set: references only in the repo, every pair rebuilt verbatim from ../shared."""

from __future__ import annotations

import collections
import json
import pathlib
import re

import pytest

from nines.data import devset


def test_splitter_keeps_speech_and_closing_quotes_together() -> None:
    text = ('Pip said, "Look, Mo, your kite is so high!" Mo grinned and answered, '
            '"Thanks, Pip. I made it myself." Then they went home.')
    assert [text[s:e] for s, e in devset.split_sentences(text)] == [
        'Pip said, "Look, Mo, your kite is so high!"',
        'Mo grinned and answered, "Thanks, Pip. I made it myself."',
        "Then they went home.",
    ]


def test_splitter_abbreviations_ellipses_and_dialogue_tags() -> None:
    text = "Mr. Brown came home. He said hi... then left. Wait... Then it rained! \"Ouch!\" said Tom."
    assert [text[s:e] for s, e in devset.split_sentences(text)] == [
        "Mr. Brown came home.", "He said hi... then left.", "Wait...", "Then it rained!", '"Ouch!" said Tom.',
    ]


def test_splitter_archaic_single_quotes_without_tracking() -> None:
    text = "'Alas!' said he, 'I am lost.' So he went home; and there he ate. 'Good,' said she."
    assert [text[s:e] for s, e in devset.split_sentences(text, track_quotes=False)] == [
        "'Alas!' said he, 'I am lost.'", "So he went home; and there he ate.", "'Good,' said she.",
    ]


def test_unbalanced_quotes_fall_back_to_plain_splitting() -> None:
    text = 'He said, "Stop. It is hot. Then he left.'
    assert len(devset.split_sentences(text)) == 3


def test_grimm_units_skip_header_titles_and_licence() -> None:
    raw = ("Gutenberg header\n\nCONTENTS:\n\n     THE FROG\n     THE TOAD\n\n\nTHE FROG\n\nA frog sat on a\n"
           "stone.  It sang.\n\nTHE TOAD\n\nA toad hopped.\n\n*** END OF THIS PROJECT\n\nLicence text here.")
    units = devset.grimm_units(raw)
    assert [u.text for u in units] == ["A frog sat on a stone. It sang.", "A toad hopped."]


def test_tinystories_units_start_at_story_openers() -> None:
    raw = "Once upon a time a cat sat.\n\nThe cat ate.\n\nThe end.\n\nLily ran.\n\nOnce there was a dog."
    assert [u.text for u in devset.tinystories_units(raw)] == [
        "Once upon a time a cat sat.\n\nThe cat ate.\n\nThe end.", "Lily ran.", "Once there was a dog."]


def test_references_hold_no_third_party_text() -> None:
    refs = devset.read_refs()
    assert len(refs) >= 400
    for r in refs:
        assert list(r) == list(devset.REF_KEYS)
        assert len(r["reason"]) <= devset.MAX_REASON and "\n" not in r["reason"]
        assert re.fullmatch(r"[0-9a-f]{10}", r["sha1"])
    keys = [(r["file"], r["sentence"]) for r in refs]
    assert len(keys) == len(set(keys)), "duplicate references"
    by = collections.Counter((r["file"], r["label"]) for r in refs)
    for f in devset.FILES:
        assert by[(f, "injurious")] > 0 and by[(f, "safe")] > 0, f


def test_bad_reference_is_rejected(tmp_path: pathlib.Path) -> None:
    good = devset.read_refs()[0]
    for change, msg in [({"kind": "death", "label": "safe"}, "contradicts"), ({"context": 0}, "context"),
                        ({"text": "x"}, "exactly the keys")]:
        p = tmp_path / "refs.jsonl"
        p.write_text(json.dumps({**good, **change}) + "\n")
        with pytest.raises(devset.DevsetError, match=msg):
            devset.read_refs(p)


def test_missing_shared_dir_gives_clear_error(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINES_SHARED", str(tmp_path / "nowhere"))
    assert devset.shared_dir() is None
    with pytest.raises(devset.DevsetUnavailable, match="not shipped"):
        devset.load_devset()
    (tmp_path / "data").mkdir()
    with pytest.raises(devset.DevsetUnavailable, match="lacks"):
        devset.load_devset(tmp_path)


@pytest.mark.shared
def test_every_pair_rebuilds_verbatim(shared_dir: pathlib.Path) -> None:
    pairs = devset.load_devset(shared_dir)
    refs = devset.read_refs()
    assert len(pairs) == len(refs)
    for p, r in zip(pairs, refs):
        assert (p.file, p.sentence, p.label) == (r["file"], r["sentence"], r["label"])
        assert devset.sha1_10(p.completion) == r["sha1"]
    for name in devset.FILES:
        raw = (shared_dir / "data" / name).read_text(encoding="utf-8")
        source = raw if name == devset.TINYSTORIES else devset.normalise_ws(raw)
        sentences = devset.file_sentences(name, raw)
        for p in (p for p in pairs if p.file == name):
            assert p.completion in source and p.prompt in source, (name, p.sentence)
            ctx = sentences[p.sentence - p.context:p.sentence]
            assert {s.unit for s in ctx} == {sentences[p.sentence].unit}, (name, p.sentence)
            assert p.prompt.startswith(ctx[0].text) and p.prompt.endswith(ctx[-1].text)


@pytest.mark.shared
def test_changed_file_is_detected_by_sha1(shared_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (tmp_path / "data").mkdir()
    for name in devset.FILES:
        raw = (shared_dir / "data" / name).read_text(encoding="utf-8")
        (tmp_path / "data" / name).write_text(raw.replace("hurt", "hurl"), encoding="utf-8")
    with pytest.raises(devset.DevsetError, match="sha1 mismatch"):
        devset.load_devset(tmp_path)


@pytest.mark.shared
def test_reasons_do_not_quote_the_sources(shared_dir: pathlib.Path) -> None:
    words = {name: " ".join(re.findall(r"[a-z']+", devset.normalise_ws(
        (shared_dir / "data" / name).read_text(encoding="utf-8")).lower())) for name in devset.FILES}
    for r in devset.read_refs():
        assert '"' not in r["reason"], r
        w = re.findall(r"[a-z']+", r["reason"].lower())
        spans = [" ".join(w[i:i + 5]) for i in range(len(w) - 4)]
        assert not [s for s in spans if s in words[r["file"]]], r
