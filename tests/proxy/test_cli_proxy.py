"""`nines proxy --classifier DIR` as a real process, with a real saved EncoderClassifier."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from proxy_helpers import NinesProcess

from nines.cli.main import cli

openai = pytest.importorskip("openai", reason="the openai client is in the dev extra: pip install -e '.[dev]'")


def test_proxy_verb_with_saved_encoder_classifier(saved_classifier_dir: Path, hf_upstream: NinesProcess,
                                                  tmp_path: Path) -> None:
    from nines.classify.encoder import EncoderClassifier

    cfg = tmp_path / "filter.yaml"
    cfg.write_text("strategy: batch_safest\nbatch_size: 2\nmax_attempts: 6\nfallback: refuse\n")
    args = ["proxy", "--classifier", str(saved_classifier_dir), "--upstream", hf_upstream.url,
            "--config", str(cfg), "--api-key", "k1", "max_attempts=8"]
    with NinesProcess(args) as proxy:
        c = openai.OpenAI(base_url=proxy.url, api_key="k1", max_retries=0, timeout=120)
        out = c.completions.create(model="tiny", prompt="the dog sat on the", n=3, max_tokens=8, seed=2)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=proxy.url, api_key="nope", max_retries=0).models.list()
    clf = EncoderClassifier.load(saved_classifier_dir, device="cpu")
    for ch in out.choices:
        rec = ch.model_extra["nines"]
        assert rec["base_threshold"] == pytest.approx(clf.threshold)
        assert rec["attempts"] <= 8 and rec["attempts"] % 2 == 0  # batches of 2, the override's cap of 8
        if rec["rule"] == "accepted":
            score = float(clf.score(["the dog sat on the"], [ch.text])[0])
            assert rec["score"] == pytest.approx(score, abs=1e-5) and score <= rec["threshold"]
        else:
            assert ch.finish_reason == "content_filter" and ch.text == ""


@pytest.mark.parametrize("extra", [[], ["--upstream", "http://127.0.0.1:1/v1", "--generator", "storyworld"]])
def test_proxy_needs_exactly_one_source(saved_classifier_dir: Path, extra: list[str]) -> None:
    result = CliRunner().invoke(cli, ["proxy", "--classifier", str(saved_classifier_dir), *extra])
    assert result.exit_code == 2 and "exactly one of --upstream URL or --generator SPEC" in result.output


def test_serve_model_bad_spec_is_a_clean_error() -> None:
    result = CliRunner().invoke(cli, ["serve-model", "--generator", "nope:x"])
    assert result.exit_code == 1 and "unknown generator scheme 'nope'" in result.output
