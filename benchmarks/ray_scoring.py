"""Ray Data scoring vs one process: wall time and agreement on N StoryWorld pairs.

    .venv/bin/python benchmarks/ray_scoring.py --n 20000 --workers 2

Baseline in the same run: ``EncoderClassifier.score`` in this process. Both score the same
pairs with the same classifier (``--classifier DIR``, or the embedded all-MiniLM-L6-v2 with a
fresh head: speed does not depend on the head's weights). Ray's figure includes starting the
local cluster and loading the classifier in every worker, reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--classifier", default=None, help="classifier folder (default: embedded MiniLM, fresh head)")
    args = ap.parse_args()

    from nines.classify.encoder import EncoderClassifier
    from nines.scale.ray_batch import RayConfig, connect, ray_score
    from nines.storyworld import StoryWorld

    clf_dir = args.classifier
    if clf_dir is None:
        clf_dir = tempfile.mkdtemp(prefix="ray_bench_clf_")
        EncoderClassifier.from_backbone("all-MiniLM-L6-v2").save(clf_dir)
    b = StoryWorld().sample(args.n, seed=12345)

    t0 = time.perf_counter()
    clf = EncoderClassifier.load(clf_dir)
    clf.batch_size = args.batch_size
    ref = clf.score(b.prompts, b.completions)
    t_single = time.perf_counter() - t0

    cfg = RayConfig(address="local", concurrency=args.workers, batch_size=args.batch_size, num_cpus=args.workers)
    t0 = time.perf_counter()
    connect(cfg)
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = ray_score(clf_dir, b.prompts, b.completions, cfg)
    t_ray = time.perf_counter() - t0

    thr = float(np.median(ref))  # a threshold that splits the pairs, to count decisions that differ
    res = {
        "n": args.n, "workers": args.workers, "batch_size": args.batch_size, "cpus": os.cpu_count(),
        "single_process_s": round(t_single, 1), "single_pairs_per_s": round(args.n / t_single, 1),
        "ray_init_s": round(t_init, 1), "ray_job_s": round(t_ray, 1),
        "ray_pairs_per_s": round(args.n / t_ray, 1), "ray_overhead_vs_single": round((t_init + t_ray) / t_single, 2),
        "max_abs_score_diff": float(np.max(np.abs(got - ref))),
        "decisions_differing_at_median_threshold": int(np.sum((got > thr) != (ref > thr))),
    }
    print(json.dumps(res, indent=2))
    print(f"| path | wall time | pairs/s |\n| --- | --- | --- |\n"
          f"| one process (baseline) | {t_single:.1f} s | {args.n / t_single:.0f} |\n"
          f"| Ray, {args.workers} workers (job only) | {t_ray:.1f} s | {args.n / t_ray:.0f} |\n"
          f"| Ray cluster start | {t_init:.1f} s | - |")


if __name__ == "__main__":
    main()
