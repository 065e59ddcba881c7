"""The scorer: any length (sliding windows, max), bucketed batches, the logit cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from nines.classify import windows as win
from nines.classify.encoder import EncoderClassifier

SENT = "The ferry crossed the grey bay while gulls circled the mast."


@pytest.fixture(scope="module")
def clf(tiny_encoder_dir: Path) -> EncoderClassifier:
    torch.manual_seed(0)
    c = EncoderClassifier.from_backbone(str(tiny_encoder_dir), max_length=64, device="cpu")
    c.batch_size = 4
    return c


def _pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Pairs of very different lengths, in no particular order; all fit (the completion <= 40 tokens)."""
    rng = np.random.default_rng(seed)
    words = SENT.split()
    prompts = [" ".join(rng.choice(words, size=int(rng.integers(1, 80)))) for _ in range(n)]
    completions = [" ".join(rng.choice(words, size=int(rng.integers(1, 30)))) for _ in range(n)]
    return prompts, completions


def _historical(clf: EncoderClassifier, prompts: list[str], completions: list[str]) -> np.ndarray:
    """What ``logits`` computed before windows: one padded only_first batch."""
    enc = clf.tokenizer(prompts, completions, padding=True, truncation="only_first",
                        max_length=clf.meta.max_length, return_tensors="pt")
    with torch.inference_mode():
        return clf.model(**enc).logits[:, 0].double().numpy()


def test_pairs_that_fit_score_exactly_as_before(clf: EncoderClassifier) -> None:
    prompts, completions = _pairs(24)
    clf.cache.clear()
    np.testing.assert_allclose(clf.logits(prompts, completions), _historical(clf, prompts, completions), atol=1e-6)
    # encode (used by training) builds the very same inputs as the tokenizer did.
    new, old = clf.encode(prompts, completions), clf.tokenizer(
        prompts, completions, padding=True, truncation="only_first", max_length=64, return_tensors="pt")
    assert new.keys() == old.keys() and all(torch.equal(new[k], old[k]) for k in old)


def test_bucketed_scores_come_back_in_order_and_equal_one_by_one(clf: EncoderClassifier) -> None:
    prompts, completions = _pairs(30, seed=1)
    clf.cache.clear()
    batched = clf.score(prompts, completions)
    clf.cache.clear()
    single = np.array([clf.score([p], [c])[0] for p, c in zip(prompts, completions)])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    assert np.ptp(batched) > 0  # the pairs do score differently, so an order mix-up would show


def test_a_600_token_completion_scores_as_the_max_over_its_windows(clf: EncoderClassifier) -> None:
    long = " ".join([SENT] * 50)
    assert len(clf.tokenizer(long, add_special_tokens=False)["input_ids"]) > 600
    clf.cache.clear()
    z = clf.logits(["A prompt that is here."], [long])
    tok = win.tokenise(clf.tokenizer, ["A prompt that is here."], [long])
    windows = win.plan(tok, clf.budget, clf.window_config)
    assert len(windows) > 10
    with torch.inference_mode():
        each = [float(clf.model(**win.build_inputs(tok, [w], clf.template)).logits[0, 0]) for w in windows]
    assert z[0] == pytest.approx(max(each), abs=1e-5)
    enc = clf.encode(["A prompt that is here."], [long])  # training takes the first window, never raises
    assert enc["input_ids"].shape[1] <= clf.meta.max_length


def test_windows_keep_the_prompt_end_and_do_not_split_words() -> None:
    cfg = win.WindowConfig(max_length=40, prompt_share=0.25, overlap=0.5)
    assert win.plan_pair(0, 10, 20, 37, cfg) == [win.Window(0, 0, 0, 20)]
    assert win.plan_pair(0, 30, 20, 37, cfg) == [win.Window(0, 13, 0, 20)]  # left truncation, as before
    words = list(range(0, 100, 3))  # a word starts every third token
    ws = win.plan_pair(0, 30, 100, 37, cfg, completion_words=words)
    assert all(w.prompt_start == 21 for w in ws)  # 9 prompt tokens = int(37 * 0.25), the prompt's end
    assert ws[0].completion_start == 0 and ws[-1].completion_end == 100
    assert all(w.completion_start in words for w in ws)
    assert all(w.completion_end - w.completion_start <= 28 for w in ws)
    with pytest.raises(ValueError, match="overlap"):
        win.WindowConfig(overlap=1.0)


def test_the_cache_hits_on_repeats_and_returns_identical_scores(clf: EncoderClassifier) -> None:
    prompts, completions = _pairs(10, seed=2)
    clf.cache.clear()
    hits, misses = clf.cache.hits, clf.cache.misses
    first = clf.score(prompts + prompts[:3], completions + completions[:3])  # repeats inside one call too
    assert clf.cache.misses - misses == 13 and len(clf.cache) == 10
    again = clf.score(prompts, completions)
    assert clf.cache.hits - hits == 10
    np.testing.assert_array_equal(again, first[:10])
    np.testing.assert_array_equal(first[10:], first[:3])


def test_the_cache_forgets_when_the_weights_change(tiny_encoder_dir: Path) -> None:
    torch.manual_seed(0)
    c = EncoderClassifier.from_backbone(str(tiny_encoder_dir), max_length=64, device="cpu")
    before = c.logits(["Tom ran."], ["He waved."])
    with torch.no_grad():
        c.model.classifier.bias.add_(1.0)  # an in-place update, as an optimizer step makes
    assert c.logits(["Tom ran."], ["He waved."])[0] == pytest.approx(before[0] + 1.0, abs=1e-5)
    with torch.no_grad():
        c.model.classifier.bias.data += 1.0  # through .data: no version bump, the value sample sees it
    assert c.logits(["Tom ran."], ["He waved."])[0] == pytest.approx(before[0] + 2.0, abs=1e-5)
    off = EncoderClassifier(c.model, c.tokenizer, c.meta, device="cpu", cache_size=0)
    off.logits(["Tom ran."], ["He waved."])
    assert len(off.cache) == 0 and off.cache.hits == 0


def test_nines_score_handles_a_long_row(clf: EncoderClassifier, tmp_path: Path) -> None:
    from nines.cli.main import cli

    d = clf.save(tmp_path / "clf")
    rows = [{"prompt": "Tom ran.", "completion": "He waved."}, {"prompt": "Tom ran.", "completion": " ".join([SENT] * 50)}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(cli, ["score", "--classifier", str(d), "--input", str(src), "--output",
                                   str(tmp_path / "out.jsonl")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == 2 and all(0.0 <= r["p_injury"] <= 1.0 for r in out)
    assert out[1]["p_injury"] == pytest.approx(float(clf.score([rows[1]["prompt"]], [rows[1]["completion"]])[0]),
                                               abs=1e-6)
