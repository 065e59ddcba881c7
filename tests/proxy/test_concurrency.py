"""Under concurrent load: nothing comes back scored above its threshold (unless the fallback says so),
scoring never blocks the event loop, and concurrent requests' pairs are scored together."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from proxy_helpers import HashClassifier

from nines.filter import FilterConfig
from nines.generate.server import create_app
from nines.proxy.app import create_proxy_app
from nines.proxy.config import ProxyConfig
from nines.storyworld import StoryWorld

CONFIGS = [
    FilterConfig(strategy="sequential", max_attempts=6, tighten_after=2, tighten_factor=0.7, fallback="refuse"),
    FilterConfig(strategy="batch_safest", batch_size=3, max_attempts=9, tighten_after=3, fallback="safest"),
    FilterConfig(strategy="batch_first", batch_size=2, max_attempts=4, threshold=0.3, fallback="safest"),
]


def _expected_threshold(cfg: FilterConfig, base: float, rounds: int) -> float:
    """The threshold of the last round: rejections before it are all earlier rounds' samples."""
    per_round = cfg.samples_per_round
    return cfg.effective_threshold(base, (rounds - 1) * per_round)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.strategy)
def test_nothing_above_its_threshold_under_concurrency(cfg: FilterConfig, live_server, proxy_server) -> None:
    world = StoryWorld(seed=0)
    prompts = world.sample_prompts(48, seed=7)
    clf = HashClassifier(threshold=0.5)
    base = cfg.threshold if cfg.threshold is not None else clf.threshold
    with live_server(create_app(world.generator(), "storyworld")) as up, \
            proxy_server(clf, cfg, ProxyConfig(upstream=up.url)) as srv, httpx.Client(timeout=60) as http:

        def ask(k: int) -> tuple[list[str], dict]:
            chosen = [p.text for p in prompts[k * 2:(k + 1) * 2]]
            ids = [p.id for p in prompts[k * 2:(k + 1) * 2]]  # StoryWorld continues its own Prompts
            r = http.post(f"{srv.url}/completions", json={"prompt": chosen, "prompt_ids": ids, "n": 3, "seed": k})
            assert r.status_code == 200, r.text
            return chosen, r.json()

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(ask, range(24)))
    rules = []
    for chosen, body in answers:
        assert len(body["choices"]) == 6
        for ch in body["choices"]:
            rec, prompt = ch["nines"], chosen[ch["index"] // 3]
            rules.append(rec["rule"])
            assert rec["base_threshold"] == base
            assert rec["threshold"] == pytest.approx(_expected_threshold(cfg, base, rec["rounds"]))
            if rec["rule"] == "fallback_refuse":
                assert ch["text"] == "" and ch["finish_reason"] == "content_filter"
                continue
            score = clf.score_one(prompt, ch["text"])  # re-scored independently of the proxy
            assert rec["score"] == pytest.approx(score)
            if rec["rule"] == "accepted":
                assert score <= rec["threshold"]
            else:
                assert rec["rule"] == "fallback_safest" and score == pytest.approx(min(rec["scores"]))
    assert "accepted" in rules and len(set(rules)) >= 2  # the load exercised a fallback too


def test_scoring_does_not_block_the_event_loop_and_is_batched(live_server) -> None:
    world = StoryWorld(seed=0)
    clf = HashClassifier(threshold=1.0, delay_s=0.5)  # accepts everything, slowly
    app = create_proxy_app(clf, FilterConfig(max_attempts=2), ProxyConfig(upstream="http://127.0.0.1:1/v1"),
                           generator=world.generator())
    prompts = world.sample_prompts(8, seed=1)
    with live_server(app) as srv, httpx.Client(timeout=60) as http:
        results: list[int] = []

        def ask(k: int) -> None:
            r = http.post(f"{srv.url}/completions",
                          json={"prompt": prompts[k].text, "prompt_ids": [prompts[k].id], "n": 2})
            results.append(r.status_code)

        threads = [threading.Thread(target=ask, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        health = http.get(f"http://127.0.0.1:{srv.port}/health")
        health_s = time.perf_counter() - t0
        for t in threads:
            t.join()
        metrics = http.get(f"http://127.0.0.1:{srv.port}/metrics").text
    assert health.status_code == 200 and health_s < 0.4, health_s  # answered while scoring was under way
    assert results == [200] * 8
    stats = app.state.proxy.scorer.stats
    assert stats.pairs == 16
    assert stats.calls < 8 and stats.merged_calls >= 1  # 8 requests, fewer classifier calls
    assert f"nines_proxy_classifier_pairs_total {stats.pairs}" in metrics
    assert 'nines_proxy_choices_total{rule="accepted"} 16' in metrics
    assert 'nines_proxy_requests_total{route="completions",status="200"} 8' in metrics
