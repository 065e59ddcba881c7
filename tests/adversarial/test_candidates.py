"""Candidate sources (embedding neighbours, causal/masked LMs, HotFlip) and scored edit suggestions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertLMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from nines.adversarial.budget import CountingClassifier
from nines.adversarial.candidates import (
    CausalLMCandidates,
    EmbeddingNeighbours,
    GradientCandidates,
    MaskedLMCandidates,
    candidate_edits,
    suggest_edits,
    whole_word_vocab,
)
from nines.adversarial.saliency import Edit, embedding_gradient
from nines.classify.encoder import EncoderClassifier, resolve_backbone

from .conftest import DictSource, KeywordClassifier

WORDS = ["The", "troll's", "club", "broke", "Mara's", "arm,", "and", "she", "screamed."]
WHOLE = re.compile(r"^[A-Za-z][A-Za-z'-]*$")


@pytest.fixture(scope="module")
def tok() -> Any:
    return AutoTokenizer.from_pretrained(resolve_backbone("all-MiniLM-L6-v2"))


def _bert_cfg(tok: Any, **kw: Any) -> BertConfig:
    return BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=128, **kw)


def _check_words(got: list[str], k: int, exclude: str) -> None:
    assert len(got) == k and len({w.lower() for w in got}) == k
    assert all(WHOLE.match(w) for w in got), got
    assert exclude.lower() not in {w.lower() for w in got}


def test_whole_word_vocab_skips_pieces_specials_and_punctuation(tok: Any) -> None:
    ids, words = whole_word_vocab(tok)
    assert len(ids) == len(words) > 10_000
    assert all(WHOLE.match(w) and not w.startswith("##") for w in words)
    assert {"[CLS]", "[unused0]", "a", "stone"} & set(words) == {"a", "stone"}
    assert tok.convert_ids_to_tokens([int(ids[words.index("stone")])]) == ["stone"]

    class BPE:  # a byte-level BPE vocabulary (GPT-2 style): word starts carry "Ġ"
        all_special_tokens = ["<|endoftext|>"]

        def get_vocab(self) -> dict[str, int]:
            return {"<|endoftext|>": 0, "Ġcat": 1, "cat": 2, "ĠCat": 3, "Ġ,": 4, "Ġdog": 5, "og": 6}

    assert whole_word_vocab(BPE()) == (pytest.approx(np.array([1, 5])), ["cat", "dog"])


def test_embedding_neighbours_follow_the_embedding_matrix(tiny_encoder_dir: Path) -> None:
    clf = EncoderClassifier.from_backbone(str(tiny_encoder_dir), device="cpu")
    emb = clf.model.get_input_embeddings().weight
    ids = clf.tokenizer.convert_tokens_to_ids(["stone", "feather"])
    with torch.no_grad():
        emb[ids[1]] = emb[ids[0]] * 2 + 1e-3  # same direction: cosine ~1
    src = EmbeddingNeighbours(clf)
    got = src.substitutes(["A", "Stone."], 1, 5)
    assert got[0] == "feather"
    _check_words(got, 5, "stone")
    assert src.substitutes(["A", "Stone."], 1, 5) == got  # deterministic (and cached)
    assert src.insertions(["she", "almost", "fell"], 2, 2) == ["nearly", "barely"]  # skips the word before
    assert src.substitutes(["..."], 0, 3) == []


def _tiny_llama(tok: Any) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(cfg)


def test_causal_lm_candidates_mechanics(tok: Any, tmp_path: Path) -> None:
    model = _tiny_llama(tok)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    for src in (CausalLMCandidates(model, tok), CausalLMCandidates(str(tmp_path), rerank=False)):
        for index in (0, 3, len(WORDS) - 1):
            subs = src.substitutes(WORDS, index, 6)
            _check_words(subs, 6, re.sub(r"'s|\W", "", WORDS[index]))
            assert src.substitutes(WORDS, index, 6) == subs
            ins = src.insertions(WORDS, index, 4)
            assert len(ins) == 4 and len(set(ins)) == 4 and all(WHOLE.match(w) for w in ins)
    with pytest.raises(ValueError, match="tokenizer"):
        CausalLMCandidates(model)


def test_causal_lm_candidates_follow_the_model(tok: Any) -> None:
    torch.manual_seed(0)
    model = BertLMHeadModel(_bert_cfg(tok, is_decoder=True))
    with torch.no_grad():
        model.cls.predictions.bias[tok.convert_tokens_to_ids("feather")] = 50.0  # the LM always says "feather"
    for rerank in (False, True):
        src = CausalLMCandidates(model, tok, rerank=rerank)
        assert src.substitutes(WORDS, 2, 3)[0] == "feather"
        assert src.insertions(WORDS, 0, 3)[0] == "feather"
        assert "feather" not in src.substitutes(["a", "feather"], 1, 3)


def test_masked_lm_candidates_follow_the_model(tok: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BertForMaskedLM(_bert_cfg(tok))
    src = MaskedLMCandidates(model, tok)
    subs = src.substitutes(WORDS, 5, 5)
    _check_words(subs, 5, "arm")
    assert src.substitutes(WORDS, 5, 5) == subs
    with torch.no_grad():
        model.cls.predictions.bias[tok.convert_tokens_to_ids("feather")] = 50.0
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded = MaskedLMCandidates(str(tmp_path))
    assert loaded.substitutes(WORDS, 5, 3)[0] == "feather"
    assert loaded.insertions(WORDS, 3, 3)[0] == "feather"
    assert "feather" not in loaded.substitutes(["a", "feather"], 1, 3)


def test_hotflip_estimates_match_the_gradient_and_predict_real_changes(weak_encoder: EncoderClassifier) -> None:
    prompt = "Felix crept past the cave. The troll lifted its mace."
    completion = "The troll's mace cut into Felix's shoulder, and blood welled up."
    words = completion.split()
    src = GradientCandidates(weak_encoder).with_context(prompt, completion, "completion")
    # The estimate for a single-token word is (e_w - e_i) · ∇_{e_i}(logit / T).
    # A possessive keeps its 's, so only the "felix" piece (of "felix ' s") is replaced.
    g = embedding_gradient(weak_encoder, prompt, completion)
    emb = weak_encoder.model.get_input_embeddings().weight.detach()
    for index, token in ((8, "blood"), (5, "felix")):
        pos = next(j for j, (t, sg) in enumerate(zip(g.tokens, g.segments)) if t == token and sg == "completion")
        ranked = src.ranked(words, index, 5)
        assert len(ranked) == 5 and ranked == sorted(ranked, key=lambda r: r[1])
        for w, est in ranked:
            e_w = emb[weak_encoder.tokenizer.convert_tokens_to_ids(w)]
            assert est == pytest.approx(float((e_w - g.embeddings[pos]) @ g.gradient[pos]), rel=1e-4, abs=1e-7)
    # First order is not exact, but its top picks must beat random words at most positions.
    rng = np.random.default_rng(0)
    base = weak_encoder.logits([prompt], [completion])[0]
    wins = 0
    for j, word in enumerate(words):
        top = src.substitutes(words, j, 8)
        _check_words(top, 8, re.sub(r"'s|\W", "", word))
        rand = [src.words[int(i)] for i in rng.choice(len(src.words), 8, replace=False)]
        change = [weak_encoder.logits([prompt] * 8, [Edit("substitute", "completion", j, word, w).apply(
            prompt, completion)[1] for w in ws]).mean() - base for ws in (top, rand)]
        wins += change[0] < change[1]
    assert wins >= 0.75 * len(words)
    assert src.insertions(words, 2, 3) == []
    assert GradientCandidates(weak_encoder).substitutes(words, 7, 3)  # unbound: words as the completion


def test_suggest_edits_scores_everything_in_one_call(keyword_clf: KeywordClassifier) -> None:
    prompt, completion = "Mara walked home.", "Stabbed, Mara fell."
    src = DictSource({"stabbed": ["knifed", "poked", "hugged"]}, {"": ["never"]})
    counter = CountingClassifier(keyword_clf)
    out = suggest_edits(counter, prompt, completion, "completion", 0, [src], k=10)
    assert counter.calls == 1 and counter.queries == len(out) == 5
    assert [s.score for s in out] == sorted(s.score for s in out)
    by_new = {(s.kind, s.new): s for s in out}
    assert by_new[("substitute", "Poked,")].completion == "Poked, Mara fell."
    assert by_new[("substitute", "Poked,")].accepted and by_new[("substitute", "Poked,")].score == 0.3
    assert not by_new[("substitute", "Knifed,")].accepted
    assert by_new[("insert", "never")].completion == "never Stabbed, Mara fell."
    assert by_new[("delete", "")].completion == "Mara fell." and by_new[("delete", "")].accepted
    assert out[0].edit.describe().startswith(("swap", "insert", "delete"))
    assert all(s.prompt == prompt for s in out)
    with pytest.raises(ValueError, match="out of range"):
        candidate_edits(prompt, completion, "completion", 4, [src])


def test_candidate_edits_dedupe_across_sources() -> None:
    a = DictSource({"club": ["stick", "twig"]})
    b = DictSource({"club": ["twig", "club"]})  # "club" itself would be a no-op edit
    edits = candidate_edits("p", "The club hit.", "completion", 1, [a, b], insertions=False, deletions=False)
    assert [e.new for e in edits] == ["stick", "twig"]
