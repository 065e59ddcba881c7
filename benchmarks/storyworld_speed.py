"""StoryWorld throughput: labelled (prompt, completion) pairs per second on one CPU core.

Run: ``.venv/bin/python benchmarks/storyworld_speed.py [--pairs 1000000] [--batch 100000]``.
The baseline is the slow path (the same sampling followed by ``StoryBatch.to_snippets()``).
"""

from __future__ import annotations

import argparse
import time

from nines.storyworld import StoryWorld


def rate(world: StoryWorld, pairs: int, batch: int, distribution: str, snippets: bool) -> float:
    """Pairs per second for sampling ``pairs`` in batches of ``batch``."""
    t0 = time.perf_counter()
    done, seed = 0, 0
    while done < pairs:
        n = min(batch, pairs - done)
        b = world.sample(n, seed=seed, distribution=distribution)
        if snippets:
            b.to_snippets()
        done, seed = done + n, seed + 1
    return pairs / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    args = ap.parse_args()
    world = StoryWorld(seed=0)
    world.sample(1000)  # warm-up (table build, model cache)
    print(f"{'distribution':<16}{'path':<28}{'pairs':>10}{'pairs/s':>12}")
    for dist in ("default", "random_excerpt"):
        fast = rate(world, args.pairs, args.batch, dist, snippets=False)
        print(f"{dist:<16}{'StoryBatch (fast)':<28}{args.pairs:>10}{fast:>12,.0f}")
        slow_n = max(args.pairs // 10, 1)
        slow = rate(world, slow_n, args.batch, dist, snippets=True)
        print(f"{dist:<16}{'baseline: to_snippets()':<28}{slow_n:>10}{slow:>12,.0f}")


if __name__ == "__main__":
    main()
