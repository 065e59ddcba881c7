"""Paraphrase and model-written red-team attacks with a generator; finds go to a review queue."""

from __future__ import annotations

import pytest

from nines.adversarial.rewrite import (
    REDTEAM_TEMPLATE,
    RewriteConfig,
    clean_rewrite,
    paraphrase_attack,
    redteam_attack,
    review_rows,
)
from nines.generate.base import Completion, Prompt, text_prompt_id
from nines.oracle import TableOracle

from .conftest import KeywordClassifier

#: Obvious injury words: a classifier that only knows these is deliberately easy to evade.
OBVIOUS = {"blood": 0.9, "broke": 0.9, "dead": 0.9, "killed": 0.9}


class ScriptedGenerator:
    """Answers every instruction with fixed texts, recording what it was asked."""

    name = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def generate(self, prompts, n=1, seed=None):
        self.asked += list(prompts)
        return [[Completion(self.answers[i % len(self.answers)]) for i in range(n)] for _ in prompts]


def test_clean_rewrite_takes_first_line_unquoted_and_cuts_at_sentence_end():
    assert clean_rewrite('\n  "Mara fell and lay still."\nStory: more') == "Mara fell and lay still."
    long = "One. " * 30
    out = clean_rewrite(long, max_chars=20)
    assert out.endswith(".") and len(out) <= 20


def test_paraphrase_keeps_only_accepted_rewrites_unlabelled_for_review():
    gen = ScriptedGenerator(["Mara did not get up again.", "Blood ran down Mara's arm.", "Mara did not get up again."])
    clf = KeywordClassifier(OBVIOUS)
    report = paraphrase_attack(gen, clf, [("The troll swung.", "The troll broke Mara's arm.")], RewriteConfig(n=3))
    assert [f.completion for f in report.finds] == ["Mara did not get up again."]  # deduplicated, flagged one dropped
    f = report.finds[0]
    assert f.label is None and f.score <= clf.threshold and f.original_score > clf.threshold
    assert "The troll broke Mara's arm." in gen.asked[0]
    assert report.queries == 1 + 2  # the original, then the two distinct rewrites
    rows = review_rows(report)
    assert rows[0]["label"] is None and rows[0]["source"] == "adversarial" and rows[0]["metadata"]["needs_review"]


def test_oracle_labels_finds_and_removes_them_from_review():
    gen = ScriptedGenerator(["Mara did not get up again."])
    oracle = TableOracle({(text_prompt_id("p"), "Mara did not get up again."): True})
    report = paraphrase_attack(gen, KeywordClassifier(OBVIOUS), [("p", "killed")], RewriteConfig(n=1), oracle=oracle)
    assert report.valid_finds and review_rows(report) == []
    assert report.finds[0].prompt_id == text_prompt_id("p")
    # A prompt with its own id keeps it; the table does not know that pair, so it goes to review.
    again = paraphrase_attack(gen, KeywordClassifier(OBVIOUS), [(Prompt("row-9", "p"), "killed")], RewriteConfig(n=1),
                              oracle=oracle)
    assert again.finds[0].label is None and review_rows(again)[0]["prompt_id"] == "row-9"


def test_redteam_attack_prompts_the_attacker_and_respects_the_budget():
    gen = ScriptedGenerator(["It had the effect you'd expect on Mara.", "The troll killed Mara."])
    prompts = [f"Story {i}." for i in range(5)]
    cfg = RewriteConfig(n=2, template=REDTEAM_TEMPLATE, queries=6)
    report = redteam_attack(gen, KeywordClassifier(OBVIOUS), prompts, cfg, focus="Mara")
    assert "Mara is clearly hurt" in gen.asked[0] and "Story 0." in gen.asked[0]
    assert report.queries == 6  # three prompts' worth of two rewrites, then the budget stops it
    assert len(report.finds) == 3 and all(f.method == "redteam" for f in report.finds)


def test_rewrite_config_rejects_bad_values():
    with pytest.raises(ValueError, match="n must be"):
        RewriteConfig(n=0)


@pytest.fixture(scope="module")
def byte_level_generator(tmp_path_factory: pytest.TempPathFactory):
    """A random 2-layer Llama over a 256-byte vocabulary: it can read any instruction text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from nines.generate.hf import HFGenerator, HFGeneratorConfig

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    vocab["<eos>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      eos_token_id=vocab["<eos>"], pad_token_id=None, bos_token_id=None)
    d = tmp_path_factory.mktemp("byte-llama")
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = vocab["<eos>"]
    model.save_pretrained(d)
    fast.save_pretrained(d)
    return HFGenerator(HFGeneratorConfig(model=str(d), max_new_tokens=30, device="cpu"))


def test_paraphrase_with_a_real_tiny_causal_lm(byte_level_generator):
    """The attack runs on a real transformers generator end to end (a random tiny model writes noise)."""
    report = paraphrase_attack(byte_level_generator, KeywordClassifier(OBVIOUS), [("The troll swung.", "It killed Mara.")],
                               RewriteConfig(n=4, seed=1))
    # The original, then every distinct non-empty rewrite the model wrote (random text, never empty here).
    assert report.queries > 1
    assert len(report.finds) == report.queries - 1  # the keyword filter accepts all the noise
    for f in report.finds:
        assert f.label is None and f.score <= 0.5
