"""Supervised fine-tuning: completion-only labels, a loss that falls, config checks, save and generate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nines.distill.policy import build_tiny_policy, count_parameters, policy_generator, save_policy
from nines.distill.sft import EncodedPairs, SFTConfig, collate, completion_loss, encode_pairs, sft_train
from nines.storyworld import StoryWorld

from .conftest import TINY


def test_collate_labels_exactly_the_completion_and_eos(word_tok: Any, world: StoryWorld) -> None:
    batch = world.sample(3, seed=5)
    pairs = encode_pairs(word_tok, batch.prompts, batch.completions)
    eos, pad = word_tok.eos_token_id, word_tok.pad_token_id
    out = collate(pairs, [2, 0, 1], pad)
    ids, mask, labels = out["input_ids"], out["attention_mask"], out["labels"]
    seq_lens = [len(pairs.prompt[i]) + len(pairs.completion[i]) for i in (2, 0, 1)]
    assert ids.shape == labels.shape == mask.shape == (3, max(seq_lens))
    for b, i in enumerate([2, 0, 1]):
        n_p, n = len(pairs.prompt[i]), seq_lens[b]
        completion = word_tok(" " + batch.completions[i], add_special_tokens=False)["input_ids"] + [eos]
        assert pairs.completion[i] == completion
        assert ids[b, :n].tolist() == word_tok(batch.prompts[i])["input_ids"] + completion
        assert ids[b, n:].eq(pad).all() and mask[b, :n].eq(1).all() and mask[b, n:].eq(0).all()
        assert labels[b, n_p:n].tolist() == completion
        assert labels[b, :n_p].eq(-100).all() and labels[b, n:].eq(-100).all()
    assert int((labels != -100).sum()) == sum(len(c) for c in pairs.completion)


def test_encode_pairs_ignores_a_leading_space_and_checks_lengths(word_tok: Any) -> None:
    a = encode_pairs(word_tok, ["The night was cold."], ["Mara ran."])
    b = encode_pairs(word_tok, ["The night was cold."], [" Mara ran."])
    assert a.completion == b.completion and word_tok.decode(a.completion[0]) == " Mara ran.<eos>"
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        encode_pairs(word_tok, ["a", "b"], ["c"])


@pytest.fixture(scope="module")
def trained(word_tok: Any, world: StoryWorld) -> dict[str, Any]:
    """A tiny policy before and after 30 SFT steps on 400 pairs, with held-out losses."""
    model = build_tiny_policy(word_tok, TINY, seed=0)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    train, held = world.sample(400, seed=11), world.sample(100, seed=12)
    val = encode_pairs(word_tok, held.prompts, held.completions)
    loss_before = completion_loss(model, val)
    result = sft_train(model, encode_pairs(word_tok, train.prompts, train.completions),
                       SFTConfig(steps=30, batch_size=32, lr=1e-2, warmup=3, eval_every=10), val=val, progress=False)
    return {"model": model, "before": before, "result": result, "val": val, "loss_before": loss_before,
            "loss_after": completion_loss(model, val)}


def test_sft_changes_the_weights_and_lowers_held_out_loss(trained: dict[str, Any]) -> None:
    model, before = trained["model"], trained["before"]
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert "model.embed_tokens.weight" in changed and len(changed) >= len(before) // 2
    # from ~log(vocabulary) = 7 nats per token to well under 6
    assert trained["loss_before"] > 6.0
    assert trained["loss_after"] < trained["loss_before"] - 1.0


def test_sft_result_records_the_run(trained: dict[str, Any]) -> None:
    res = trained["result"]
    assert res.steps == 30 and res.seconds > 0
    assert [s for s, _ in res.val_loss] == [10, 20, 30]
    assert res.val_loss[-1][1] == pytest.approx(trained["loss_after"], rel=1e-5)
    assert res.val_loss[0][1] > res.val_loss[-1][1]
    assert [s for s, _ in res.train_loss] == [30]
    assert not trained["model"].training  # sft_train leaves the model in eval mode


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"steps": 0}, "sft.steps"),
    ({"batch_size": 0}, "sft.batch_size"),
    ({"lr": 0.0}, "sft.lr must be > 0"),
    ({"lr": -1e-3}, "sft.lr must be > 0"),
    ({"warmup": -1}, "sft.warmup"),
    ({"eval_every": -5}, "sft.eval_every"),
])
def test_sft_config_rejects_bad_values(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SFTConfig(**kwargs)


def test_sft_train_needs_pairs(word_tok: Any) -> None:
    model = build_tiny_policy(word_tok, TINY)
    with pytest.raises(ValueError, match="no training pairs"):
        sft_train(model, EncodedPairs([], []), SFTConfig(steps=1), progress=False)


def test_sft_train_with_fewer_pairs_than_a_batch_takes_them_all(word_tok: Any, world: StoryWorld) -> None:
    model = build_tiny_policy(word_tok, TINY, seed=0)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    batch = world.sample(5, seed=13)
    pairs = encode_pairs(word_tok, batch.prompts, batch.completions)
    loss0 = completion_loss(model, pairs)
    res = sft_train(model, pairs, SFTConfig(steps=3, batch_size=64, lr=1e-2, warmup=0), val=pairs, progress=False)
    assert res.steps == 3 and [s for s, _ in res.val_loss] == [3]
    assert not torch.equal(model.model.embed_tokens.weight, before["model.embed_tokens.weight"])
    assert res.val_loss[-1][1] < loss0


def test_sft_train_needs_the_tokenizer_of_hand_made_pairs(word_tok: Any) -> None:
    model = build_tiny_policy(word_tok, TINY)
    with pytest.raises(ValueError, match="pairs' tokenizer"):
        sft_train(model, EncodedPairs([[1, 2]], [[3, word_tok.eos_token_id]]), SFTConfig(steps=1), progress=False)


def test_saved_policy_reloads_and_generates_text(trained: dict[str, Any], word_tok: Any, world: StoryWorld,
                                                tmp_path: Path) -> None:
    model = trained["model"]
    folder = save_policy(model, word_tok, tmp_path / "policy")
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    gen = policy_generator(folder, max_new_tokens=16)
    assert count_parameters(gen.model) == count_parameters(model)
    for (k, v), w in zip(model.state_dict().items(), gen.model.state_dict().values()):
        assert torch.equal(v, w), k
    assert completion_loss(gen.model, trained["val"]) == pytest.approx(trained["loss_after"], rel=1e-5)
    prompts = world.sample_prompts(8, seed=21)
    rows = gen.generate(prompts, n=2, seed=0)
    assert len(rows) == 8 and all(len(r) == 2 for r in rows)
    texts = [c.text for r in rows for c in r]
    assert all(isinstance(t, str) and not t.startswith(" ") for t in texts)
    assert any(t.strip() for t in texts)
    assert [c.text for r in gen.generate(prompts, n=2, seed=0) for c in r] == texts  # seeded
