"""Upstream faults: killed and restarted mid-load (real processes), slow, refusing, malformed."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from proxy_helpers import HashClassifier, NinesProcess

from nines.filter import FilterConfig
from nines.proxy.config import ProxyConfig


def _load(url: str, stop: threading.Event, log: list[tuple[float, int, dict]]) -> None:
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            r = http.post(f"{url}/completions", json={"prompt": "the cat", "n": 2, "max_tokens": 6})
            log.append((time.monotonic(), r.status_code, r.json()))
            time.sleep(0.02)


def _wait_for(log: list, since: float, status: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(t > since and s == status for t, s, _ in list(log)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {status} after {timeout_s} s: {[s for _, s, _ in log[-10:]]}")


def test_upstream_killed_mid_load_then_restarted(tiny_model_dir: Path, proxy_server) -> None:
    upstream = NinesProcess(["serve-model", "--generator", f"hf:{tiny_model_dir}", "--model-name", "tiny"])
    cfg = ProxyConfig(upstream=upstream.url, timeout_s=5, max_retries=1, backoff_s=0.05)
    log: list[tuple[float, int, dict]] = []
    stop = threading.Event()
    upstream.start()
    try:
        with proxy_server(HashClassifier(), FilterConfig(max_attempts=4), cfg) as srv:
            threads = [threading.Thread(target=_load, args=(srv.url, stop, log)) for _ in range(4)]
            for t in threads:
                t.start()
            _wait_for(log, 0, 200)
            t_kill = time.monotonic()
            upstream.kill()
            _wait_for(log, t_kill, 502)
            time.sleep(1.5)  # stay down a while under load
            t_restart = time.monotonic()
            upstream.start()  # same port
            t_ready = time.monotonic()
            _wait_for(log, t_ready, 200)
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join(timeout=30)
    finally:
        stop.set()
        upstream.kill()
    assert all(s == 200 for t, s, _ in log if t < t_kill)
    down = [(s, b) for t, s, b in log if t_kill + 0.5 < t < t_restart]
    assert down and all(s == 502 for s, _ in down)
    assert all("cannot connect" in b["error"]["message"] and b["error"]["code"] == 502 for _, b in down)
    after = [s for t, s, _ in log if t > t_ready + 0.2]
    assert after and all(s == 200 for s in after)  # recovered, no restart of the proxy
    assert {s for _, s, _ in log} <= {200, 502}  # never a 500


def _fake_upstream(delay_s: float = 0.0, status: int = 200, choices: int | None = None) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/completions")
    async def completions(body: dict) -> JSONResponse:
        await asyncio.sleep(delay_s)
        if status != 200:
            return JSONResponse({"error": {"message": "max_tokens is too large for this model"}}, status_code=status)
        k = choices if choices is not None else len(body["prompt"]) * body["n"]
        return JSONResponse({"choices": [{"index": i, "text": " ok.", "finish_reason": "stop"} for i in range(k)]})

    return app


def _ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/completions", json={"prompt": "hi"}, timeout=30)


def test_slow_upstream_gives_504(live_server, proxy_server) -> None:
    cfg_of = lambda url: ProxyConfig(upstream=url, upstream_model="m", timeout_s=0.3, max_retries=1, backoff_s=0)  # noqa: E731
    with live_server(_fake_upstream(delay_s=2.0)) as up, \
            proxy_server(HashClassifier(threshold=1.0), FilterConfig(), cfg_of(up.url)) as srv:
        t0 = time.perf_counter()
        r = _ask(srv.url)
        took = time.perf_counter() - t0
    assert r.status_code == 504
    assert "timed out after 0.3 s" in r.json()["error"]["message"] and "2 attempts" in r.json()["error"]["message"]
    assert took < 1.8  # gave up on its own timeout, did not wait for the upstream


def test_upstream_refusal_is_a_400_with_its_message(live_server, proxy_server) -> None:
    with live_server(_fake_upstream(status=400)) as up, \
            proxy_server(HashClassifier(), FilterConfig(), ProxyConfig(upstream=up.url, upstream_model="m")) as srv:
        r = _ask(srv.url)
    assert r.status_code == 400 and "max_tokens is too large" in r.json()["error"]["message"]


def test_malformed_upstream_answer_is_502(live_server, proxy_server) -> None:
    with live_server(_fake_upstream(choices=3)) as up, \
            proxy_server(HashClassifier(), FilterConfig(), ProxyConfig(upstream=up.url, upstream_model="m")) as srv:
        r = _ask(srv.url)
    assert r.status_code == 502 and "returned 3 choices where 1 were asked for" in r.json()["error"]["message"]


def test_unreachable_upstream_is_502_everywhere(free_tcp_port: int, proxy_server) -> None:
    cfg = ProxyConfig(upstream=f"http://127.0.0.1:{free_tcp_port}/v1", max_retries=0)
    with proxy_server(HashClassifier(), FilterConfig(), cfg) as srv:
        models = httpx.get(f"{srv.url}/models")
        r = _ask(srv.url)
        health = httpx.get(f"http://127.0.0.1:{srv.port}/health")
    assert models.status_code == 502 and r.status_code == 502
    assert "cannot connect" in r.json()["error"]["message"]
    assert health.status_code == 200  # the proxy itself is up
