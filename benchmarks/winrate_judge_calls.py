"""Judge calls needed by the naive and coupled win-rate designs for the same 95% interval width.

StoryWorld (incoherent_rate=0.25), a synthetic classifier (high when injurious or incoherent, plus
hashed noise; threshold 0.5) and a Bradley-Terry StoryWorldJudge (noise 0.2). A pilot run per
design estimates the per-prompt standard deviation; the number of prompts for the target
half-width h is n = (t * sd / h)^2; a final run at that n confirms the half-width.

Run: ``.venv/bin/python benchmarks/winrate_judge_calls.py [--half-width 0.01]``
"""

from __future__ import annotations

import argparse
import math
import time

from nines.evaluate.winrate import coupled_winrate, naive_winrate
from nines.judge import StoryWorldJudge
from nines.stats.winrate import WinRate
from nines.storyworld import StoryWorld
from nines.testing import MetaClassifier, RecordingGenerator


def run(design: str, world: StoryWorld, n: int, seed: int) -> WinRate:
    gen = RecordingGenerator(world.generator())
    clf = MetaClassifier(gen.meta)
    prompts = world.sample_prompts(n, seed=seed)
    fn = naive_winrate if design == "naive" else coupled_winrate
    return fn(gen, clf, StoryWorldJudge(noise=0.2, seed=seed), prompts, seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half-width", type=float, default=0.01)
    ap.add_argument("--pilot", type=int, default=3000)
    args = ap.parse_args()
    world = StoryWorld(seed=0, incoherent_rate=0.25)
    rows = []
    for design in ("naive", "coupled"):
        t0 = time.time()
        pilot = run(design, world, args.pilot, seed=1)
        sd = pilot.std_error * math.sqrt(pilot.n_prompts)
        n = math.ceil((1.96 * sd / args.half_width) ** 2)
        final = run(design, world, n, seed=2)
        rows.append((design, final, time.time() - t0))
    print(f"target 95% half-width {args.half_width}")
    print(f"{'design':<8} {'judge calls':>11} {'prompts':>8} {'estimate':>9} {'half-width':>10} {'time s':>7}")
    for design, r, dt in rows:
        print(f"{design:<8} {r.judge_calls:>11,} {r.n_prompts:>8,} {r.estimate:>9.4f} {r.half_width:>10.4f} {dt:>7.1f}")
    ratio = (rows[0][1].judge_calls or 0) / max(1, rows[1][1].judge_calls or 1)
    print(f"the coupled design needs {ratio:.1f}x fewer judge calls for the same interval width")


if __name__ == "__main__":
    main()
