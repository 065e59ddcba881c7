"""Throughput of nines' scorer against ``transformers.pipeline("text-classification")``, same model and pairs.

    .venv/bin/python benchmarks/scoring.py --n-pairs 512        # --quick for a 64-pair smoke run

The model is the embedded MiniLM backbone with a fresh head (``EncoderClassifier.from_backbone``,
seed 0): no trained classifier is needed to time the scorer. Its threshold is the 95th percentile
of its own scores on the pairs (said in the output). The pipeline gets the pairs as
``{"text", "text_pair"}`` with ``truncation="only_first"``, as nines truncates; it cannot take a
completion longer than the window, so pairs are those that fit (StoryWorld and the seed set), and
a last row times nines alone on the same pairs plus long ones.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Row:
    name: str
    n: int
    seconds: float
    logits: np.ndarray | None


def _pairs(n: int) -> tuple[list[str], list[str]]:
    from nines.data.seed import load_seed
    from nines.storyworld import StoryWorld

    seed = load_seed()
    b = StoryWorld().sample(max(0, n - len(seed)), seed=1)
    prompts = [s.prompt for s in seed] + list(b.prompts)
    completions = [s.completion for s in seed] + list(b.completions)
    return prompts[:n], completions[:n]


def _timed(name: str, fn: Callable[[], np.ndarray], n: int) -> Row:
    t = time.perf_counter()
    z = fn()
    return Row(name, n, time.perf_counter() - t, z)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-pairs", type=int, default=512)
    ap.add_argument("--quick", action="store_true", help="64 pairs, for a smoke run")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    n = 64 if args.quick else args.n_pairs
    torch.set_num_threads(args.threads)
    from transformers import pipeline

    from nines.classify.encoder import EncoderClassifier

    torch.manual_seed(0)
    clf = EncoderClassifier.from_backbone(device="cpu")
    P, C = _pairs(n)
    pipe = pipeline("text-classification", model=clf.model, tokenizer=clf.tokenizer, device=-1,
                    function_to_apply="none")
    data = [{"text": p, "text_pair": c} for p, c in zip(P, C)]
    clf.logits(P[:8], C[:8])  # warm-up
    pipe(data[:8], truncation="only_first", max_length=clf.meta.max_length)

    def run_pipe(bs: int) -> np.ndarray:
        out = pipe(data, batch_size=bs, truncation="only_first", max_length=clf.meta.max_length)
        return np.array([o["score"] for o in out], dtype=np.float64)

    def run_nines(cache: bool) -> np.ndarray:
        if not cache:
            clf.cache.clear()
        return clf.logits(P, C)

    rows = [_timed("pipeline, batch_size=1 (its default)", lambda: run_pipe(1), n),
            _timed("pipeline, batch_size=64", lambda: run_pipe(64), n),
            _timed("nines score (windows, token-length buckets, inference_mode), cold cache", lambda: run_nines(False), n),
            _timed("nines score, every pair repeated (cache hits)", lambda: run_nines(True), n)]
    long_c = " ".join(["The ferry crossed the grey bay while gulls circled the mast."] * 40)
    P2, C2 = P + P[:16], C + [long_c] * 16
    clf.cache.clear()
    rows.append(_timed("nines score, plus 16 pairs of ~520 tokens (no pipeline can)", lambda: clf.logits(P2, C2), n + 16))
    ref = rows[2].logits
    assert ref is not None
    thr = float(np.quantile(ref, 0.95))
    base = rows[0].n / rows[0].seconds
    print(f"{n} pairs, {args.threads} torch threads, MiniLM-L6 + fresh head (seed 0); threshold = 95th "
          f"percentile of its logits = {thr:.4f}; reference = nines cold")
    print("| variant | pairs/s | speedup vs pipeline bs=1 | max abs logit diff vs ref | decisions flipped |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        z = r.logits[:n] if r.logits is not None else None
        diff = float(np.abs(z - ref).max()) if z is not None else float("nan")
        flips = int(((z > thr) != (ref > thr)).sum()) if z is not None else 0
        rate = r.n / r.seconds
        print(f"| {r.name} | {rate:.1f} | {rate / base:.1f}x | {diff:.2e} | {flips} |")


if __name__ == "__main__":
    main()
