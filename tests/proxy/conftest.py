"""Fixtures for the proxy: real upstream processes (`nines serve-model`), live proxies, a saved classifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from proxy_helpers import NinesProcess


@pytest.fixture(scope="module")
def hf_upstream(tiny_model_dir: Path) -> Iterator[NinesProcess]:
    """`nines serve-model` serving the tiny HF model (a real process on loopback)."""
    with NinesProcess(["serve-model", "--generator", f"hf:{tiny_model_dir}", "--model-name", "tiny"]) as p:
        yield p


@pytest.fixture
def proxy_server(live_server):
    """Build a proxy app and run it in a live uvicorn thread: ``with proxy_server(clf, fcfg, pcfg) as srv``."""
    from nines.proxy.app import create_proxy_app

    def make(classifier, filter_config, proxy_config, generator=None):
        return live_server(create_proxy_app(classifier, filter_config, proxy_config, generator=generator))

    return make


@pytest.fixture(scope="session")
def saved_classifier_dir(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real saved ``EncoderClassifier`` (tiny random encoder) whose threshold is its median score on a
    fixed set of pairs, so about half of random completions are rejected."""
    from nines.classify.encoder import EncoderClassifier

    clf = EncoderClassifier.from_backbone(str(tiny_encoder_dir), device="cpu")
    prompts = [f"the {w} sat on the mat" for w in ("cat", "dog", "big dog", "small cat")]
    completions = ["and then it ran.", "it was big.", "the cat sat.", "a dog ran on the mat.", "then it sat."]
    scores = clf.score([p for p in prompts for _ in completions], [c for _ in prompts for c in completions])
    clf.threshold = float(np.median(scores))
    return clf.save(tmp_path_factory.mktemp("saved-clf") / "clf")
