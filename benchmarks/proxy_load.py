"""Load test of `nines proxy`: throughput, latency, the proxy's added latency, and generator calls per completion.

Setup, all real processes on loopback:

* upstream: ``nines serve-model`` with stories260K (``llama2c:../shared/models/stories260K``) when
  ``../shared`` is there, else a tiny random Llama built from a config (``--upstream-spec`` picks
  any other spec);
* classifier: ``--classifier DIR`` (e.g. ``runs/demo/classifier``), else a tiny random BERT
  ``EncoderClassifier`` saved to a temp folder, its threshold set to the ``--accept`` quantile of
  its scores on 120 upstream samples of the benchmark's prompts (so roughly that share of first
  samples is accepted: the point is the filter's cost, not its judgement);
* proxy: ``nines proxy --classifier DIR --upstream URL`` with ``strategy``/``max_attempts`` given;
* load: ``--clients`` concurrent clients (async httpx) x ``--requests`` each, first straight to the
  upstream, then through the proxy, same prompts and options, in the same run.

Printed: throughput and p50/p95 latency of both, the proxy's added latency (p50 and mean, through
the proxy minus direct; under load this is mostly queueing behind other requests' resamples at
an upstream that serves one call at a time), the proxy's own overhead (one client, no queueing:
requests accepted at the first sample against direct calls), and generator samples per returned completion against ``1/P(accept)``,
with ``P(accept)`` the share of FIRST samples accepted (measured from the ``nines`` records).
With sequential sampling and no cap, E[samples] = E[1/p(prompt)] >= 1/E[p]: the two agree when
acceptance does not vary much between prompts; the cap ``max_attempts`` pulls samples down.

Run::

    .venv/bin/python benchmarks/proxy_load.py                       # 50 x 20, a few minutes on 2 cores
    .venv/bin/python benchmarks/proxy_load.py --clients 5 --requests 4   # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "proxy"))
sys.path.insert(0, str(REPO / "tests"))

# One prompt by default: the stand-in classifier is a random encoder, whose score depends mostly
# on the prompt, so with several prompts P(accept | prompt) is near 0 or 1 and the comparison with
# 1/P(accept) says little. ``--prompts all`` uses the six below (and shows that effect).
ALL_PROMPTS = ["Once upon a time, there was a little girl named Lily.", "One day, Tom went to the park with his dog.",
               "The big red ball rolled down the hill.", "Sam climbed the tall tree to get his kite.",
               "Mia and her mom went to the store.", "The cat saw a bird in the garden."]
PROMPTS = ALL_PROMPTS[:1]


def _upstream_spec(spec: str | None, tmp: Path) -> str:
    if spec:
        return spec
    stories = REPO.parent / "shared" / "models" / "stories260K"
    if stories.is_dir():
        return f"llama2c:{stories}"
    from conftest import build_tiny_model  # tests/conftest.py: a random Llama from a config

    print(f"{stories} is absent; using a tiny random Llama", file=sys.stderr)
    return f"hf:{build_tiny_model(tmp / 'tiny-llama')}"


def _tiny_classifier(tmp: Path, upstream_url: str, accept: float, max_tokens: int) -> Path:
    """A tiny random BERT classifier whose threshold accepts about ``accept`` of upstream samples."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from nines.classify.encoder import ClassifierMeta, EncoderClassifier, resolve_backbone

    tok = AutoTokenizer.from_pretrained(resolve_backbone("all-MiniLM-L6-v2"))
    import torch

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256)
    config.num_labels = 1  # set after construction: BertConfig's typed signature does not list it
    model = BertForSequenceClassification(config)
    clf = EncoderClassifier(model, tok, ClassifierMeta(), device="cpu")
    k = max(20, 120 // len(PROMPTS))
    body = httpx.post(f"{upstream_url}/completions", timeout=300, json={
        "prompt": PROMPTS, "n": k, "max_tokens": max_tokens, "seed": 12345}).json()
    texts = [c["text"] for c in sorted(body["choices"], key=lambda c: c["index"])]
    prompts = [p for p in PROMPTS for _ in range(k)]
    clf.threshold = float(np.quantile(clf.score(prompts, texts), accept))
    return clf.save(tmp / "clf")


async def _client(http: httpx.AsyncClient, url: str, k: int, n_requests: int, max_tokens: int,
                  out: list[tuple[float, int, dict[str, Any] | None, str]]) -> None:
    for i in range(n_requests):
        payload: dict[str, Any] = {"prompt": PROMPTS[(k + i) % len(PROMPTS)], "max_tokens": max_tokens}
        t0 = time.perf_counter()
        r = await http.post(f"{url}/completions", json=payload)
        body = r.json() if r.status_code == 200 else None
        out.append((time.perf_counter() - t0, r.status_code, body, payload["prompt"]))


async def _drive(url: str, clients: int, n_requests: int, max_tokens: int) -> tuple[float, list]:
    out: list[tuple[float, int, dict[str, Any] | None, str]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(http, url, k, n_requests, max_tokens, out) for k in range(clients)))
        return time.perf_counter() - t0, out


def _summary(name: str, wall: float, out: list) -> dict[str, Any]:
    lat = np.array([row[0] for row in out])
    ok = sum(1 for row in out if row[1] == 200)
    return {"name": name, "requests": len(out), "ok": ok, "wall_s": wall, "rps": len(out) / wall,
            "p50_ms": 1000 * float(np.percentile(lat, 50)), "p95_ms": 1000 * float(np.percentile(lat, 95)),
            "mean_ms": 1000 * float(lat.mean())}


def _serial(up_url: str, px_url: str, k: int, max_tokens: int) -> dict[str, Any]:
    """The proxy's own overhead: one client, no queueing, proxied requests that took one sample."""
    _, direct = asyncio.run(_drive(up_url, 1, k, max_tokens))
    _, proxied = asyncio.run(_drive(px_url, 1, k, max_tokens))
    one = [t for t, s, body, _ in proxied if s == 200 and body and body["choices"][0]["nines"]["attempts"] == 1]
    d50 = 1000 * float(np.percentile([row[0] for row in direct], 50))
    p50 = 1000 * float(np.percentile(one, 50)) if one else float("nan")
    return {"direct_p50_ms": d50, "proxy_p50_ms": p50, "proxy_one_sample": len(one), "overhead_ms": p50 - d50}


def _filter_costs(out: list, cap: int) -> dict[str, Any]:
    """Measured samples per completion, against 1/P(accept) pooled and the per-prompt geometric prediction.

    A prompt whose first samples are accepted with probability p needs, under sequential sampling
    capped at ``cap``, E = (1 - (1 - p)^cap) / p samples; averaging that over requests is the
    prediction when acceptance varies between prompts (the pooled 1/P(accept) ignores that).
    """
    rows = [(prompt, c["nines"]) for _, s, body, prompt in out if s == 200 and body for c in body["choices"]]
    firsts: dict[str, list[bool]] = {}
    for prompt, r in rows:
        firsts.setdefault(prompt, []).append(r["scores"][0] is not None and r["scores"][0] <= r["base_threshold"])
    p_prompt = {k: float(np.mean(v)) for k, v in firsts.items()}
    pooled = float(np.mean([a for v in firsts.values() for a in v]))
    expect = [(1 - (1 - p_prompt[k]) ** cap) / p_prompt[k] if p_prompt[k] > 0 else cap for k, _ in rows]
    return {"choices": len(rows), "samples_per_completion": float(np.mean([r["attempts"] for _, r in rows])),
            "p_accept_first": pooled, "inv_p_accept": 1 / pooled if pooled else float("inf"),
            "predicted_per_prompt": float(np.mean(expect)),
            "p_accept_by_prompt": p_prompt, "refused": sum(r["rule"] == "fallback_refuse" for _, r in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--upstream-spec", default=None)
    ap.add_argument("--classifier", default=None)
    ap.add_argument("--accept", type=float, default=0.7, help="target share of first samples accepted")
    ap.add_argument("--strategy", default="sequential")
    ap.add_argument("--max-attempts", type=int, default=16)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--prompts", choices=["one", "all"], default="one")
    ap.add_argument("--serial", type=int, default=40, help="requests of the one-client overhead check")
    args = ap.parse_args()
    if args.prompts == "all":
        PROMPTS[:] = ALL_PROMPTS
    from proxy_helpers import NinesProcess

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        spec = _upstream_spec(args.upstream_spec, tmp)
        with NinesProcess(["serve-model", "--generator", spec, "--model-name", "up"]) as up:
            clf_dir = args.classifier or str(_tiny_classifier(tmp, up.url, args.accept, args.max_tokens))
            proxy_args = ["proxy", "--classifier", clf_dir, "--upstream", up.url, "--max-n", "8",
                          f"strategy={args.strategy}", f"max_attempts={args.max_attempts}"]
            with NinesProcess(proxy_args) as px:
                asyncio.run(_drive(up.url, 4, 2, args.max_tokens))  # warm both up
                asyncio.run(_drive(px.url, 4, 2, args.max_tokens))
                direct = _summary("direct upstream", *asyncio.run(_drive(up.url, args.clients, args.requests,
                                                                          args.max_tokens)))
                wall, out = asyncio.run(_drive(px.url, args.clients, args.requests, args.max_tokens))
                proxied = _summary("through nines proxy", wall, out)
                metrics = httpx.get(f"http://127.0.0.1:{px.port}/metrics").text
                serial = _serial(up.url, px.url, args.serial, args.max_tokens)
    costs = _filter_costs(out, args.max_attempts)
    _print(spec, args, direct, proxied, costs, metrics)
    print(f"one client, {args.serial} requests each way (no queueing): direct p50 {serial['direct_p50_ms']:.0f} ms, "
          f"proxy p50 {serial['proxy_p50_ms']:.0f} ms on the {serial['proxy_one_sample']} requests accepted at the "
          f"first sample: overhead {serial['overhead_ms']:+.0f} ms per request")
    if args.json:
        Path(args.json).write_text(json.dumps({"direct": direct, "proxy": proxied, "filter": costs,
                                               "serial": serial}, indent=2))


def _print(spec: str, args: argparse.Namespace, direct: dict, proxied: dict, costs: dict, metrics: str) -> None:
    print(f"\nupstream {spec}; {args.clients} clients x {args.requests} requests; max_tokens={args.max_tokens}; "
          f"strategy={args.strategy}, max_attempts={args.max_attempts}\n")
    print("| path | requests | ok | req/s | p50 ms | p95 ms | mean ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for s in (direct, proxied):
        print(f"| {s['name']} | {s['requests']} | {s['ok']} | {s['rps']:.1f} | {s['p50_ms']:.0f} | "
              f"{s['p95_ms']:.0f} | {s['mean_ms']:.0f} |")
    print(f"\nproxy's added latency: p50 {proxied['p50_ms'] - direct['p50_ms']:+.0f} ms, "
          f"mean {proxied['mean_ms'] - direct['mean_ms']:+.0f} ms (includes resampling rejected completions)")
    print(f"generator samples per returned completion: {costs['samples_per_completion']:.2f}; "
          f"1/P(accept first sample) = 1/{costs['p_accept_first']:.3f} = {costs['inv_p_accept']:.2f}; "
          f"refused {costs['refused']} of {costs['choices']}")
    print(f"predicted from each prompt's P(accept) with the cap: {costs['predicted_per_prompt']:.2f} "
          f"(P(accept) by prompt: {', '.join(f'{p:.2f}' for p in costs['p_accept_by_prompt'].values())})")
    keep = [ln for ln in metrics.splitlines() if ln.startswith("nines_proxy_classifier")]
    print("classifier: " + "; ".join(keep))


if __name__ == "__main__":
    main()
