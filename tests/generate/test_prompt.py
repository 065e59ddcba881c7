"""Prompt identity: ids that travel, content-hash ids for plain strings."""

from __future__ import annotations

import pickle

import pytest

from nines.generate import Prompt, as_prompt, as_prompts, prompt_texts, text_prompt_id


def test_plain_strings_get_stable_content_hash_ids() -> None:
    a, b, c = as_prompts(["Mara waited.", "Mara waited.", "Mara left."])
    assert a == b and a.id == text_prompt_id("Mara waited.") and a.id.startswith("text:")
    assert a.id != c.id and len({a.id, c.id}) == 2
    assert a.text == "Mara waited." and a.meta == {}


def test_prompt_objects_keep_their_own_ids_and_meta() -> None:
    meta = {"row": 3}
    p = Prompt("dataset:3", "Mara waited.", meta)
    meta["row"] = 4  # the prompt copied its meta
    assert as_prompt(p) is p and p.meta == {"row": 3} and str(p) == "Mara waited."
    assert p != Prompt("dataset:4", "Mara waited.")  # same text, different prompt
    assert p == Prompt("dataset:3", "Mara waited.", {"other": 1}) and hash(p) == hash(Prompt("dataset:3", "Mara waited."))
    assert pickle.loads(pickle.dumps(p)) == p and pickle.loads(pickle.dumps(p)).meta == {"row": 3}
    assert prompt_texts([p, "plain"]) == ["Mara waited.", "plain"]


def test_bad_prompts_say_what_to_pass() -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        Prompt("", "x")
    with pytest.raises(TypeError, match="must be a string"):
        Prompt("a", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single string"):
        as_prompts("one prompt")
    with pytest.raises(TypeError, match="single string"):
        prompt_texts("one prompt")
    with pytest.raises(TypeError, match="Prompt or a str"):
        as_prompts([3])  # type: ignore[list-item]
