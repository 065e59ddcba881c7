"""Long completions: the window max catches an injury anywhere, and saliency explains that window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nines.adversarial.saliency import explained_window, gradient_saliency
from nines.classify import windows as win
from nines.classify.encoder import EncoderClassifier
from nines.classify.train import TrainConfig, train_classifier
from nines.data.record import Label, Snippet

STEPS = 150
PROMPT = "The afternoon was long and slow."
CALMS = ["She walked along the quiet river.", "He counted the boats drifting past the mill.",
         "The baker sang while the bread rose.", "A cat slept in the warm window.",
         "They talked about the weather for an hour.", "The bell rang twice and the school emptied."]
HURTS = ["The axe slipped and split his foot open.", "She fell from the roof and broke her arm.",
         "The dog bit deep into the boy's leg.", "He was stabbed in the side and bled."]
CALM = " ".join(CALMS)


def _rows(n: int, seed: int = 0) -> list[Snippet]:
    """Two to ten calm sentences, with an injury sentence at a random place in half of them.

    Up to ~90 tokens, so that every position of a 96-token window is trained.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sents = [CALMS[k] for k in rng.integers(0, len(CALMS), size=int(rng.integers(2, 11)))]
        hurt = i % 2 == 0
        if hurt:
            sents.insert(int(rng.integers(0, len(sents) + 1)), HURTS[int(rng.integers(0, len(HURTS)))])
        rows.append(Snippet(PROMPT, " ".join(sents), Label.INJURIOUS if hurt else Label.SAFE))
    return rows


@pytest.fixture(scope="module")
def encoder(tiny_encoder_dir: Path) -> EncoderClassifier:
    """The tiny BERT trained to find an injury sentence anywhere among calm ones (inputs <= 96 tokens)."""
    cfg = TrainConfig(backbone=str(tiny_encoder_dir), max_steps=STEPS, batch_size=16, lr=3e-3, dropout=0.0,
                      max_length=96, eval_every=1000, patience=0, checkpoint_every=0, warmup_fraction=0.0,
                      device="cpu")
    torch.manual_seed(0)
    return train_classifier(_rows(800), [], cfg, progress=False).classifier


def _long(clf: EncoderClassifier, head: str = "", tail: str = "", min_tokens: int = 600) -> str:
    body = [CALM]
    while len(clf.tokenizer(" ".join(body), add_special_tokens=False)["input_ids"]) < min_tokens:
        body.append(CALM)
    return " ".join(([head] if head else []) + body + ([tail] if tail else []))


@pytest.mark.parametrize("hurt", HURTS[:2])
def test_an_injury_at_the_start_of_a_long_safe_completion_is_caught(encoder: EncoderClassifier, hurt: str) -> None:
    prompt = PROMPT
    alone = float(encoder.score([prompt], [hurt])[0])
    safe_long = _long(encoder)
    at_start = _long(encoder, head=hurt)
    at_end = _long(encoder, tail=hurt)
    s_safe, s_start, s_end = encoder.score([prompt] * 3, [safe_long, at_start, at_end])
    assert alone > s_safe + 0.2  # the injury is what the score is about
    # The window holding the injury scores about as high as the injury alone: the max finds it,
    # wherever it is; keeping only the completion's end would have scored s_safe at the start.
    assert s_start >= alone - 0.15 and s_end >= alone - 0.15
    assert s_start > s_safe + 0.15


def test_saliency_on_a_long_completion_explains_the_scoring_window(encoder: EncoderClassifier) -> None:
    prompt, hurt = PROMPT, HURTS[2]
    completion = _long(encoder, head=CALM + " " + CALM, tail=hurt)
    score = float(encoder.score([prompt], [completion])[0])
    smap = gradient_saliency(encoder, prompt, completion)
    assert smap.score == pytest.approx(score, abs=1e-5)
    tok, window = explained_window(encoder, prompt, completion)
    assert window.completion_start > 0  # not the first window: the injury is at the end
    comp = [t for t in smap.tokens if t.segment == "completion"]
    assert len(comp) == window.completion_end - window.completion_start
    for t in smap.tokens:  # offsets index the whole text, and the token is what is there
        text = smap.text(t.segment)
        piece = t.token.removeprefix("##").lower()
        assert text[t.start:t.end].lower() == piece, (t, text[t.start:t.end])
    words = {w.word for w in smap.words() if w.segment == "completion"}
    assert set(hurt.split()) <= words  # the injury's words are explained


def test_every_window_is_within_the_budget_and_the_windows_cover_the_completion(
        encoder: EncoderClassifier) -> None:
    completion = _long(encoder, min_tokens=700)
    tok = win.tokenise(encoder.tokenizer, ["A short prompt."], [completion])
    windows = win.plan(tok, encoder.budget, encoder.window_config)
    n = len(tok.completion_ids[0])
    assert len(windows) > 2 and windows[0].completion_start == 0 and windows[-1].completion_end == n
    for a, b in zip(windows, windows[1:]):
        assert b.completion_start <= a.completion_end  # no gap between consecutive windows
        assert b.completion_start > a.completion_start
    for w in windows:
        assert win.window_length(tok, w, encoder.template) <= encoder.meta.max_length
