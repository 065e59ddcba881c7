"""ScoreBatcher: merged calls hand each thread exactly its own scores, and errors reach every waiter."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import httpx
import numpy as np
import pytest
from proxy_helpers import HashClassifier

from nines.filter import FilterConfig
from nines.proxy.config import ProxyConfig
from nines.proxy.scoring import ScoreBatcher
from nines.storyworld import StoryWorld


def test_each_thread_gets_its_own_scores_from_merged_calls() -> None:
    clf = HashClassifier(delay_s=0.05)
    batcher = ScoreBatcher(clf, max_batch=10)
    got: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        got[k] = batcher.score([f"p{k}"] * 3, [f"c{k}-{j}" for j in range(3)])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(12):
        assert got[k] == pytest.approx([clf.score_one(f"p{k}", f"c{k}-{j}") for j in range(3)])
    assert batcher.stats.pairs == 36 and batcher.stats.calls < 12 and batcher.stats.merged_calls >= 1
    assert batcher.threshold == clf.threshold


class Broken:
    threshold = 0.5

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        raise RuntimeError("CUDA fell over")


def test_classifier_errors_reach_the_caller_and_the_client(proxy_server) -> None:
    with pytest.raises(RuntimeError, match="CUDA fell over"):
        ScoreBatcher(Broken()).score(["a"], ["b"])
    world = StoryWorld(seed=0)
    with proxy_server(Broken(), FilterConfig(), ProxyConfig(), generator=world.generator()) as srv:
        prompt = world.sample_prompts(1, seed=0)[0]
        r = httpx.post(f"{srv.url}/completions", json={"prompt": prompt.text, "prompt_ids": [prompt.id]})
    assert r.status_code == 500 and "CUDA fell over" in r.json()["error"]["message"]
