"""HFGenerator on a tiny random Llama saved to disk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from nines.generate.base import Completion, Generator
from nines.generate.hf import HFGenerator, HFGeneratorConfig, cut_text

PROMPTS = ["the cat", "a big dog ran on the", "it"]  # different lengths: exercises left padding


def recompute_logprob(gen: HFGenerator, prompt: str, text: str) -> tuple[float, list[int]]:
    """Sum of log p(token | prefix) of ``text``'s tokens after ``prompt``, from one forward pass."""
    tok = gen.tokenizer
    prompt_ids = tok(prompt)["input_ids"]
    full_ids = tok(prompt + text)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids
    with torch.no_grad():
        logits = gen.model(torch.tensor([full_ids])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    cont = full_ids[len(prompt_ids) :]
    total = sum(logp[len(prompt_ids) - 1 + i, t].item() for i, t in enumerate(cont))
    return total, cont


def test_is_a_generator_with_n_completions_per_prompt(tiny_generator: HFGenerator) -> None:
    assert isinstance(tiny_generator, Generator)
    assert tiny_generator.name.startswith("hf:")
    out = tiny_generator.generate(PROMPTS, n=3, seed=0)
    assert len(out) == len(PROMPTS)
    assert all(len(group) == 3 and all(isinstance(c, Completion) for c in group) for group in out)


def test_seed_makes_it_deterministic_and_leaves_global_rng_alone(tiny_generator: HFGenerator) -> None:
    state = torch.random.get_rng_state()
    a = tiny_generator.generate(PROMPTS, n=4, seed=123)
    b = tiny_generator.generate(PROMPTS, n=4, seed=123)
    c = tiny_generator.generate(PROMPTS, n=4, seed=124)
    assert torch.equal(state, torch.random.get_rng_state())
    assert [[x.text for x in g] for g in a] == [[x.text for x in g] for g in b]
    assert [[x.logprob for x in g] for g in a] == [[x.logprob for x in g] for g in b]
    assert [[x.text for x in g] for g in a] != [[x.text for x in g] for g in c]


def test_no_seed_resamples_instead_of_repeating(tiny_generator: HFGenerator) -> None:
    # The filter resamples with seed=None when its config has no seed: each call must draw afresh.
    draws = [[x.text for g in tiny_generator.generate(PROMPTS, n=2, seed=None) for x in g] for _ in range(3)]
    assert draws[0] != draws[1] or draws[1] != draws[2]


@pytest.mark.parametrize("sentence", [True, False])
def test_logprob_matches_forward_pass_of_kept_tokens(tiny_generator: HFGenerator, sentence: bool) -> None:
    gen = tiny_generator.with_options(stop_at_sentence_end=sentence, temperature=0.7, top_p=0.9)
    out = gen.generate(PROMPTS, n=5, seed=7)
    for prompt, group in zip(PROMPTS, out):
        for c in group:
            expected, ids = recompute_logprob(gen, prompt, c.text)
            assert c.meta["token_ids"] == ids
            assert c.logprob == pytest.approx(expected, abs=1e-4)
            assert c.logprob == pytest.approx(sum(c.meta["token_logprobs"]), abs=1e-9)
            assert c.logprob <= 0


def test_sentence_cut(tiny_generator: HFGenerator) -> None:
    out = tiny_generator.with_options(max_new_tokens=30).generate(PROMPTS, n=8, seed=3)
    comps = [c for g in out for c in g]
    cut = [c for c in comps if re.search(r"[.!?]$", c.text)]
    assert len(cut) >= len(comps) // 2, "expected most completions to reach a sentence end"
    for c in comps:
        # at most one sentence end, and only at the very end
        assert not re.search(r"[.!?]\s", c.text), c.text
    uncut = tiny_generator.with_options(max_new_tokens=30, stop_at_sentence_end=False).generate(
        PROMPTS, n=8, seed=3
    )
    assert any(re.search(r"[.!?]\s", c.text) for g in uncut for c in g)
    # the cut completions are prefixes of the uncut ones (same seed, same random draws)
    for g_cut, g_full in zip(out, uncut):
        for a, b in zip(g_cut, g_full):
            assert b.text.startswith(a.text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (" sat on the mat. then it ran", " sat on the mat."),
        (' he said "hi!" and left', ' he said "hi!"'),
        (" what?! no", " what?!"),
        (" pi is 3.14 and. so", " pi is 3.14 and."),
        (" no end", " no end"),
        (" ends.", " ends."),
    ],
)
def test_cut_text(text: str, kept: str) -> None:
    assert cut_text(text, True) == kept


def test_stop_strings_cut_before_the_stop(tiny_generator: HFGenerator) -> None:
    gen = tiny_generator.with_options(stop=("mat",), stop_at_sentence_end=False)
    for g in gen.generate(PROMPTS, n=6, seed=1):
        for c in g:
            assert "mat" not in c.text
    assert cut_text("a b\nc", False, ["\n"]) == "a b"


def test_batches_and_progress(tiny_model_dir: Path) -> None:
    gen = HFGenerator(HFGeneratorConfig(model=str(tiny_model_dir), batch_size=1, max_new_tokens=5))
    out = gen.generate(PROMPTS, n=2, seed=0)
    assert [len(g) for g in out] == [2, 2, 2]


def test_wraps_given_objects_and_sets_pad_token(tiny_generator: HFGenerator) -> None:
    tok = tiny_generator.tokenizer
    tok_copy = type(tok).from_pretrained(tiny_generator.config.model)
    tok_copy.pad_token = None
    gen = HFGenerator(model=tiny_generator.model, tokenizer=tok_copy)
    assert gen.tokenizer.pad_token == gen.tokenizer.eos_token
    assert len(gen.generate(["the cat"], n=2, seed=0)[0]) == 2


def test_missing_model_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found locally"):
        HFGenerator(HFGeneratorConfig(model=str(tmp_path / "no-such-model")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not found locally and cannot be downloaded"):
        HFGenerator(HFGeneratorConfig(model=str(tmp_path / "empty")))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": ""}, "local folder or hub id"),
        ({"model": "x", "temperature": 0}, "temperature"),
        ({"model": "x", "top_p": 1.5}, "top_p"),
        ({"model": "x", "device": "gpu"}, "device"),
        ({"model": "x", "dtype": "fp8"}, "dtype"),
        ({"model": "x", "batch_size": 0}, "batch_size"),
    ],
)
def test_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HFGeneratorConfig(**kwargs)


def test_bad_arguments(tiny_generator: HFGenerator) -> None:
    with pytest.raises(TypeError, match="wrap it in a list"):
        tiny_generator.generate("the cat")
    with pytest.raises(ValueError, match="n must be"):
        tiny_generator.generate(["the cat"], n=0)
