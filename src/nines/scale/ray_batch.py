"""Scoring and filtering as Ray Data ``map_batches`` jobs, one classifier (and generator) per worker.

Each worker is a callable class whose ``__init__`` loads the classifier (and, for filtering, the
generator) once; ``concurrency`` such workers run at once. Rows carry an integer id, so results
are put back in input order whatever order the cluster finishes them in, and the driver writes
exactly what the single-process path writes:

- scoring returns the same rows with the same ``p_injury`` to about 1e-7 (the encoder's batches
  differ, so padding and summation order differ; decisions at the threshold are the same unless
  a score lies within that of it);
- filtering runs whole shards of prompts (:mod:`nines.scale.shards`) inside one worker each, so
  with a seed and a deterministic generator it returns the same completions as
  :func:`nines.scale.shards.filter_in_shards`.

Ray is optional (``pip install 'nines[ray]'``) and imported only here, lazily.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nines.filter import FilterConfig, FilterResult
from nines.generate.base import Prompt, as_prompts
from nines.scale.shards import DEFAULT_SHARD_SIZE, filter_shard, shard_bounds

INSTALL_HINT = "Ray is not installed; install it with `pip install 'nines[ray]'` (or `pip install 'ray[data]'`)"


@dataclass
class RayConfig:
    """Where and how wide to run.

    Attributes:
        address: ``local`` starts a local cluster in this process (``num_cpus`` CPUs); ``auto``
            joins the cluster already running on this machine (``ray start --head``); ``ray://host:port``
            connects through Ray Client. If Ray is already initialised in this process it is reused.
        concurrency: workers (each holds its own classifier, and generator when filtering).
        batch_size: rows per ``map_batches`` call when scoring (also the encoder's batch size).
        num_cpus: CPUs Ray gives the local cluster (``local`` only; ``None``: all of this machine's).
        cpus_per_worker: CPUs reserved per worker (torch in a worker uses this many threads).
        gpus_per_worker: GPUs reserved per worker (0 on CPU clusters).
    """

    address: str = "local"
    concurrency: int = 2
    batch_size: int = 256
    num_cpus: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        if self.address not in ("local", "auto") and ":" not in self.address:
            raise ValueError(f"--ray {self.address!r}: use local, auto, ray://HOST:PORT or HOST:PORT")
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"Ray concurrency (workers) must be an integer >= 1, got {self.concurrency!r}")
        if self.batch_size < 1:
            raise ValueError(f"Ray batch size must be >= 1, got {self.batch_size!r}")


def import_ray() -> Any:
    """The ``ray`` module with Ray Data loaded, or an ImportError with the install hint."""
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is an extra of the ray package)
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return ray


def connect(cfg: RayConfig) -> Any:
    """Initialise Ray for ``cfg.address`` (or reuse this process's Ray); returns the ``ray`` module."""
    ray = import_ray()
    _quiet(ray)
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}
    if cfg.address == "local":
        ray.init(num_cpus=cfg.num_cpus, **kwargs)
    else:
        ray.init(address=cfg.address, **kwargs)
    return ray


def _quiet(ray: Any) -> None:
    # Ray Data logs its progress to stdout when it is not a terminal; the CLI prints its own summary.
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _actors(ray: Any, cfg: RayConfig) -> dict[str, Any]:
    """``map_batches`` arguments for a pool of ``cfg.concurrency`` stateful workers."""
    return {"compute": ray.data.ActorPoolStrategy(size=cfg.concurrency), "num_cpus": cfg.cpus_per_worker,
            "num_gpus": cfg.gpus_per_worker or None}


def _quiet_worker() -> None:
    import transformers

    transformers.logging.disable_progress_bar()


class ScoreWorker:
    """A Ray Data worker: loads the classifier once, then scores batches of ``{id, prompt, completion}``."""

    def __init__(self, clf_dir: str, batch_size: int, device: str = "auto") -> None:
        from nines.classify.encoder import EncoderClassifier

        _quiet_worker()
        self.clf = EncoderClassifier.load(clf_dir, device=device)
        self.clf.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p = self.clf.score([str(x) for x in batch["prompt"]], [str(x) for x in batch["completion"]])
        return {"id": np.asarray(batch["id"], dtype=np.int64), "p_injury": np.asarray(p, dtype=np.float64)}


def _blocks(n: int, cfg: RayConfig) -> int:
    # A few blocks per worker so that workers stay busy while the last blocks finish.
    return max(1, min(-(-n // cfg.batch_size), 4 * cfg.concurrency))


def ray_score(clf_dir: str, prompts: Sequence[str], completions: Sequence[str], cfg: RayConfig,
              device: str = "auto") -> np.ndarray:
    """Calibrated p(injurious) of every pair, computed by ``cfg.concurrency`` Ray workers.

    Returns:
        Scores in input order, shape ``(N,)``, as ``EncoderClassifier.load(clf_dir).score`` gives.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    n = len(prompts)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    ray = connect(cfg)
    import pyarrow as pa

    table = pa.table({"id": np.arange(n, dtype=np.int64), "prompt": list(prompts), "completion": list(completions)})
    step = -(-n // _blocks(n, cfg))
    ds = ray.data.from_arrow([table.slice(s, step) for s in range(0, n, step)])
    scored = ds.map_batches(ScoreWorker, fn_constructor_args=(clf_dir, cfg.batch_size, device),
                            batch_size=cfg.batch_size, batch_format="numpy", **_actors(ray, cfg))
    out = np.full(n, np.nan, dtype=np.float64)
    seen = np.zeros(n, dtype=bool)
    for b in scored.iter_batches(batch_size=None, batch_format="numpy"):
        out[b["id"]] = b["p_injury"]
        seen[b["id"]] = True
    if not seen.all():  # a lost row would otherwise be written as NaN without a word
        raise RuntimeError(f"Ray returned scores for {int(seen.sum())} of {n} rows")
    return out


@dataclass
class FilterJob:
    """What a filter worker needs to rebuild the generator and classifier on its own machine.

    Attributes:
        clf_dir: the classifier folder (must be readable from every worker).
        generator: a generator spec as ``nines generate --generator`` takes.
        config: the filter settings.
        device: the classifier's device.
    """

    clf_dir: str
    generator: str
    config: FilterConfig
    device: str = "auto"

    def build(self) -> tuple[Any, Any]:
        """``(generator, classifier)``, loaded in the calling process."""
        from nines.classify.encoder import EncoderClassifier

        if self.generator == "storyworld" or self.generator.startswith("storyworld:"):
            from nines.storyworld import StoryWorld

            # The prompts' ids name their scenes, so a worker's own world needs no prompt history.
            gen: Any = StoryWorld(seed=0).generator()
        else:
            from nines.generate.registry import load_generator

            gen = load_generator(self.generator)
        return gen, EncoderClassifier.load(self.clf_dir, device=self.device)


class FilterWorker:
    """A Ray Data worker: builds the generator and classifier once, then filters whole shards."""

    def __init__(self, job: FilterJob) -> None:
        _quiet_worker()
        self.job = job
        self.gen, self.clf = job.build()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids: list[int] = []
        blobs: list[bytes] = []
        for shard, start, prompts_json in zip(batch["shard"], batch["start"], batch["prompts"]):
            prompts = [Prompt(i, t) for i, t in json.loads(str(prompts_json))]  # ids travel: StoryWorld needs them
            results = filter_shard(self.gen, self.clf, prompts, self.job.config, int(shard))
            ids.extend(range(int(start), int(start) + len(results)))
            # Whole FilterResult objects travel back, so the driver reports exactly what one process would.
            blobs.extend(pickle.dumps(r) for r in results)
        return {"id": np.asarray(ids, dtype=np.int64), "result": np.asarray(blobs, dtype=object)}


def ray_filter(job: FilterJob, prompts: Sequence[str], cfg: RayConfig,
               shard_size: int = DEFAULT_SHARD_SIZE) -> list[FilterResult]:
    """Rejection-sample ``prompts`` on Ray, one shard per task, ``cfg.concurrency`` workers.

    Returns:
        One result per prompt in prompt order, equal to :func:`nines.scale.shards.filter_in_shards`
        with the same generator, classifier, config and ``shard_size``.
    """
    prompts = list(prompts)
    bounds = shard_bounds(len(prompts), shard_size)
    if not bounds:
        return []
    ray = connect(cfg)
    rows = [{"shard": k, "start": s, "prompts": json.dumps([[p.id, p.text] for p in as_prompts(prompts[s:e])])}
            for k, (s, e) in enumerate(bounds)]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    done = ds.map_batches(FilterWorker, fn_constructor_args=(job,), batch_size=1, batch_format="numpy",
                          **_actors(ray, cfg))
    out: list[FilterResult | None] = [None] * len(prompts)
    for b in done.iter_batches(batch_size=None, batch_format="numpy"):
        for i, blob in zip(b["id"], b["result"]):
            out[int(i)] = pickle.loads(blob)
    missing = sum(r is None for r in out)
    if missing:
        raise RuntimeError(f"Ray returned no result for {missing} of {len(prompts)} prompts")
    return [r for r in out if r is not None]
