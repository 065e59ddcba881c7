"""Saliency: occlusion finds the keyword; gradient×input maps to the right text and is a true derivative."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nines.adversarial.budget import CountingClassifier
from nines.adversarial.saliency import (
    Edit,
    SaliencyMap,
    TokenSaliency,
    gradient_saliency,
    occlusion_saliency,
    split_core,
    word_spans,
)
from nines.classify.encoder import ClassifierMeta, EncoderClassifier

from .conftest import KeywordClassifier

PROMPT = ("Malik edged along the railway tracks, his stitched forehead throbbing. The wagon wheel stood "
          "nearby. Somewhere behind him, the mountain lion growled and lifted its claws.")
COMPLETION = "The mountain lion's claws tore Malik's arm open."


def test_occlusion_puts_the_highest_value_on_the_keyword(keyword_clf: KeywordClassifier) -> None:
    prompt, completion = "Mara walked home alone.", "Then the troll stabbed Mara twice."
    smap = occlusion_saliency(keyword_clf, prompt, completion)
    words = smap.words()
    assert keyword_clf.calls == 1  # all deletions in one batch
    assert keyword_clf.seen == 1 + len(word_spans(prompt)) + len(word_spans(completion))
    top = max(words, key=lambda w: w.value)
    assert (top.word, top.segment, top.index) == ("stabbed", "completion", 3)
    assert top.value == pytest.approx(0.95 - 0.05)
    assert all(w.value == 0 for w in words if w is not top)
    assert smap.score == pytest.approx(0.95) and smap.method == "occlusion"


def test_occlusion_counts_queries_and_can_skip_the_base_and_a_segment(keyword_clf: KeywordClassifier) -> None:
    counter = CountingClassifier(keyword_clf)
    smap = occlusion_saliency(counter, "Mara walked home.", "The troll stabbed Mara.",
                              segments=("completion",), base_score=0.95)
    assert counter.queries == 4 and counter.calls == 1
    assert [t.token for t in smap.tokens] == ["The", "troll", "stabbed", "Mara."]
    assert {t.segment for t in smap.tokens} == {"completion"}
    with pytest.raises(ValueError, match="unit"):
        occlusion_saliency(keyword_clf, "a", "b", unit="token")  # type: ignore[arg-type]


def test_words_sum_sub_word_tokens() -> None:
    tokens = [TokenSaliency("the", "completion", 0, 3, 1.0), TokenSaliency("ogre", "completion", 4, 8, 2.0),
              TokenSaliency("'", "completion", 8, 9, 0.5), TokenSaliency("s", "completion", 9, 10, 0.25),
              TokenSaliency("club", "completion", 11, 15, -1.0), TokenSaliency(".", "completion", 15, 16, 0.5),
              TokenSaliency("hi", "prompt", 3, 5, 7.0)]
    smap = SaliencyMap("Oh hi there", "The ogre's club.", 0.9, "gradient", tokens)
    got = [(w.word, w.segment, w.index, w.start, w.end, w.value) for w in smap.words()]
    assert got == [("hi", "prompt", 1, 3, 5, 7.0), ("The", "completion", 0, 0, 3, 1.0),
                   ("ogre's", "completion", 1, 4, 10, 2.75), ("club.", "completion", 2, 11, 16, -0.5)]


def test_gradient_offsets_map_back_to_each_segment(weak_encoder: EncoderClassifier,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weak_encoder.meta, "max_length", 32)  # forces left truncation of the prompt
    smap = gradient_saliency(weak_encoder, PROMPT, COMPLETION)
    texts = {"prompt": PROMPT, "completion": COMPLETION}
    for t in smap.tokens:
        assert texts[t.segment][t.start:t.end].lower() == t.token.removeprefix("##"), t
    prompt_toks = [t for t in smap.tokens if t.segment == "prompt"]
    comp_toks = [t for t in smap.tokens if t.segment == "completion"]
    # Left truncation keeps the end of the prompt; the completion is whole.
    assert prompt_toks and prompt_toks[0].start > 0 and prompt_toks[-1].end == len(PROMPT)
    assert "".join(t.token.removeprefix("##") for t in comp_toks) == COMPLETION.lower().replace(" ", "")
    assert len(prompt_toks) + len(comp_toks) == 32 - 3  # [CLS] prompt [SEP] completion [SEP]
    comp_words = [w for w in smap.words() if w.segment == "completion"]
    assert [w.word for w in comp_words] == COMPLETION.split()
    assert sum(w.value for w in smap.words()) == pytest.approx(sum(t.value for t in smap.tokens))
    assert smap.score == pytest.approx(float(weak_encoder.score([PROMPT], [COMPLETION])[0]), abs=1e-6)


def test_gradient_saliency_leaves_the_model_untouched(weak_encoder: EncoderClassifier) -> None:
    model = weak_encoder.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    try:
        a = gradient_saliency(weak_encoder, PROMPT, COMPLETION)
        b = gradient_saliency(weak_encoder, PROMPT, COMPLETION)
        assert model.training  # mode restored
    finally:
        model.eval()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert [t.value for t in a.tokens] == [t.value for t in b.tokens]  # eval mode inside: no dropout noise
    assert any(abs(t.value) > 0 for t in a.tokens)


def _calibrated_logit(clf: EncoderClassifier, scale: torch.Tensor) -> float:
    """``logit / T`` with each token's word embedding multiplied by ``scale[i]`` (shape ``(L,)``)."""
    batch = clf.encode([PROMPT], [COMPLETION])
    ids = batch.pop("input_ids")
    with torch.no_grad():
        emb = clf.model.get_input_embeddings()(ids) * scale[None, :, None]  # (1, L, H)
        return float(clf.model(inputs_embeds=emb, **batch).logits[0, 0]) / clf.meta.temperature


def test_gradient_times_input_is_the_derivative_along_the_embeddings(weak_encoder: EncoderClassifier) -> None:
    # First-order Taylor: d/da f(e * (1 + a·m)) at a = 0 equals sum over masked tokens of ∇f·e, which is
    # exactly the sum of their gradient×input values. Float64 makes central differences precise.
    meta = ClassifierMeta(temperature=2.0, max_length=48)  # T != 1 checks that logit / T is explained
    clf = EncoderClassifier(copy.deepcopy(weak_encoder.model).double(), weak_encoder.tokenizer, meta, device="cpu")
    smap = gradient_saliency(clf, PROMPT, COMPLETION)
    ids = clf.encode([PROMPT], [COMPLETION])["input_ids"][0].tolist()
    special = np.array(clf.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True), dtype=bool)
    positions = np.flatnonzero(~special)
    assert len(positions) == len(smap.tokens)
    eps = 1e-5

    def derivative(mask: np.ndarray) -> float:
        m = torch.tensor(mask, dtype=torch.float64)
        return (_calibrated_logit(clf, 1 + eps * m) - _calibrated_logit(clf, 1 - eps * m)) / (2 * eps)

    total = sum(t.value for t in smap.tokens)
    assert derivative((~special).astype(float)) == pytest.approx(total, rel=1e-4, abs=1e-9)
    top = int(np.argmax([abs(t.value) for t in smap.tokens]))
    one = np.zeros(len(ids))
    one[positions[top]] = 1.0
    assert derivative(one) == pytest.approx(smap.tokens[top].value, rel=1e-4, abs=1e-9)
    assert abs(total) > 1e-6


def test_word_helpers_keep_punctuation_and_possessives() -> None:
    assert split_core('"Arm,') == ('"', "Arm", ",")
    assert split_core("Mara's") == ("", "Mara", "'s")
    p, c = "Mara ran.", "The troll's club hit Mara's arm."
    assert Edit("substitute", "completion", 4, "Mara's", "Sam's").apply(p, c) == (p, "The troll's club hit Sam's arm.")
    assert Edit("insert", "completion", 3, "", "never").apply(p, c)[1] == "The troll's club never hit Mara's arm."
    assert Edit("insert", "prompt", 2, "", "away").apply(p, c)[0] == "Mara ran. away"
    assert Edit("delete", "completion", 5, "arm.", "").apply(p, c)[1] == "The troll's club hit Mara's"
    assert Edit("delete", "completion", 0, "The", "").apply(p, c)[1] == "troll's club hit Mara's arm."
    assert Edit("substitute", "completion", 2, "club", "twig").describe() == "swap 'club'->'twig' @completion:2"
