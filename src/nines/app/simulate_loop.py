"""The human loop end to end, over HTTP: a real LM's generations, scripted people, the CLI, the truth.

:func:`run_human_loop` does what a team does, in order, and measures it against the truth:

1. samples completions from a real pretrained LM (``llama2c:../shared/models/stories260K``) for
   TinyStories prompts (:mod:`nines.app.simulate_truth`): a training set and an evaluation set of
   random unfiltered samples, on disjoint prompts;
2. starts ``nines serve`` on loopback (a child process), creates the admin with ``nines user create``
   and the labeller and rater accounts through the admin API, imports both sets as datasets
   (``/api/admin/snippets``) and opens a labelling queue on each (three labels per item);
3. the scripted labellers (:class:`~nines.app.simulate.ScriptedLabeller`) label what the queues
   serve; the training labels are exported (``/api/admin/export/labels.jsonl``);
4. ``nines train`` and ``nines calibrate`` (the clean pool: the training set's completions) make the filter;
5. ``nines evaluate --plan`` writes a labelling plan with the coupled win-rate pairs and imports it
   into the app's store; the labellers label its queue and the raters compare its pairs;
6. ``nines evaluate --labels STORE#eval`` and ``--labels STORE#plan`` measure on the stored labels;
7. the truth (:func:`~nines.app.simulate_truth.compute_truth`) on prompts the loop never saw.

The CLI steps run as child processes (``python -m nines.cli.main``), exactly as a team would type them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nines.app.loadtest import PASSWORD, ServerProcess, create_admin
from nines.app.simulate import (
    HURT_RULE,
    AppClient,
    ScriptedLabeller,
    ScriptedRater,
    answer_pairs,
    hurt_rank,
    import_rows,
    label_queue,
    majority_error,
)
from nines.app.simulate_truth import compute_truth, split_prompts, tinystories_prompts

__all__ = ["HumanLoopConfig", "run_human_loop"]


@dataclass
class HumanLoopConfig:
    """The scale and the people of one human-loop run.

    Attributes:
        generator: generator spec (default: ``llama2c:`` the shared stories260K; the CLI's defaults apply).
        backbone: the classifier's encoder (``all-MiniLM-L6-v2`` is embedded; tests pass a tiny one).
        train_prompts, eval_prompts: prompts of the training and evaluation sets (one completion each).
        plan_prompts, plan_labels: the labelling plan's prompts and label budget (0 skips the plan and pairs).
        truth_prompts: fresh prompts for the truth; pool_size: draws per truth (and plan) prompt.
        samples_per_prompt: ``labels.samples_per_prompt`` of ``nines evaluate --labels``.
        labeller_errors: one scripted labeller per entry, with that error rate (an odd number).
        raters, rater_noise: scripted raters and their noise.
        train_steps, train_batch, train_lr: ``nines train`` settings; rejection_budget: ``nines calibrate``'s.
        target: ``labels.target`` of ``nines evaluate``.
        db: a ``postgresql://`` URL for the app's store (default: a SQLite file in the work folder).
        seed: seeds the prompt split, the generations and the people.
    """

    generator: str = ""
    backbone: str = "all-MiniLM-L6-v2"
    train_prompts: int = 200
    eval_prompts: int = 200
    plan_prompts: int = 60
    plan_labels: int = 60
    truth_prompts: int = 400
    pool_size: int = 8
    samples_per_prompt: int = 8
    labeller_errors: tuple[float, ...] = (0.03, 0.05, 0.08)
    raters: int = 2
    rater_noise: float = 0.1
    train_steps: int = 80
    train_batch: int = 16
    train_lr: float = 5e-5
    rejection_budget: float = 0.2
    target: float = 0.05
    db: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.labeller_errors) % 2 == 0 or any(not 0 <= e < 0.5 for e in self.labeller_errors):
            raise ValueError("labeller_errors: give an odd number of error rates, each in [0, 0.5), e.g. (0.03, 0.05)")
        for name in ("train_prompts", "eval_prompts", "truth_prompts", "pool_size", "samples_per_prompt"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if (self.plan_prompts > 0) != (self.plan_labels > 0):
            raise ValueError("give both plan_prompts and plan_labels, or set both to 0 to skip the plan")


def _spec(cfg: HumanLoopConfig) -> str:
    if cfg.generator:
        return cfg.generator
    from nines.data.devset import shared_dir

    shared = shared_dir()
    if shared is None:
        raise FileNotFoundError("../shared is absent: the human loop needs its stories260K model and TinyStories")
    return f"llama2c:{shared / 'models' / 'stories260K'}"


def _cli(log: list[dict[str, Any]], *args: str) -> str:
    """Run ``nines ARGS`` in a child process; returns its output (raises with it on failure)."""
    t0 = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    r = subprocess.run([sys.executable, "-m", "nines.cli.main", *args], capture_output=True, text=True, env=env)
    out = (r.stdout + r.stderr).strip()
    log.append({"command": "nines " + " ".join(args), "seconds": round(time.perf_counter() - t0, 1),
                "output": out[-2000:]})
    if r.returncode != 0:
        raise RuntimeError(f"`nines {' '.join(args)}` failed with exit code {r.returncode}:\n{out[-4000:]}")
    return out


def _rows(gen: Any, prompts: list[Any], seed: int) -> tuple[list[dict[str, Any]], int]:
    """One completion per prompt; empty completions (which the app refuses) are counted and dropped."""
    comps = gen.generate(prompts, n=1, seed=seed)
    rows = [{"prompt_id": p.id, "prompt": p.text, "completion": cs[0].text} for p, cs in zip(prompts, comps)]
    kept = [r for r in rows if r["completion"].strip()]
    return kept, len(rows) - len(kept)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _queue_id(admin: AppClient, name: str) -> int:
    return next(int(q["id"]) for q in admin.get("/api/admin/queues") if q["name"] == name)


def _label_all(base: str, labellers: list[ScriptedLabeller], queue_id: int) -> dict[str, int]:
    """The labellers work on the queue at the same time, as a team does (each labels every item)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(labellers)) as pool:
        done = list(pool.map(lambda lab: label_queue(base, lab, queue_id), labellers))
    return {lab.name: n for lab, n in zip(labellers, done)}


@dataclass
class _Run:
    cfg: HumanLoopConfig
    work: Path
    url: str
    steps: dict[str, float] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def timed(self, name: str, t0: float) -> None:
        self.steps[name] = round(time.perf_counter() - t0, 1)


def _train_files(run: _Run, admin: AppClient) -> tuple[Path, Path, Path]:
    """Export the training labels and write the train/val/clean JSONL files ``nines train`` reads."""
    from nines.evaluate.labels_source import read_labels

    export = run.work / "train_labels_export.jsonl"
    export.write_bytes(admin.get_bytes("/api/admin/export/labels.jsonl", params={"dataset": "train"}))
    rows = read_labels(export).rows
    data = [{"prompt_id": r.prompt_id, "prompt": r.prompt, "completion": r.completion,
             "label": "injurious" if r.label else "safe", "source": "generated"} for r in rows]
    # Every 4th row of each label is held out (temperature and early stopping need both labels there).
    seen = {"injurious": 0, "safe": 0}
    train: list[dict[str, Any]] = []
    val: list[dict[str, Any]] = []
    for d in data:
        seen[d["label"]] += 1
        (val if seen[d["label"]] % 4 == 0 else train).append(d)
    run.counts["train_labelled"] = len(data)
    run.counts["train_failures"] = seen["injurious"]
    if seen["injurious"] < 4 or seen["safe"] < 4:
        raise ValueError(f"the training labels hold {seen['injurious']} failures and {seen['safe']} safe rows; "
                         "at least 4 of each are needed to train and calibrate: use more train_prompts")
    return (_write_jsonl(run.work / "train.jsonl", train), _write_jsonl(run.work / "val.jsonl", val),
            _write_jsonl(run.work / "clean.jsonl", [{**d, "label": None} for d in data]))


def _classifier(run: _Run, admin: AppClient) -> Path:
    cfg, clf = run.cfg, run.work / "classifier"
    train, val, clean = _train_files(run, admin)
    t0 = time.perf_counter()
    _cli(run.commands, "train", "--data", str(train), "--val", str(val), "--output", str(clf), f"backbone={cfg.backbone}",
         f"max_steps={cfg.train_steps}", f"batch_size={cfg.train_batch}", f"lr={cfg.train_lr}", "eval_every=20",
         "checkpoint_every=0", f"seed={cfg.seed}", "device=cpu")
    _cli(run.commands, "calibrate", "--classifier", str(clf), "--data", str(val), "--clean", str(clean),
         f"rejection_budget={cfg.rejection_budget}")
    run.timed("train_and_calibrate", t0)
    return clf


def _plan(run: _Run, admin: AppClient, clf: Path, prompts: list[Any], spec: str,
          labellers: list[ScriptedLabeller], raters: list[ScriptedRater]) -> None:
    cfg = run.cfg
    t0 = time.perf_counter()
    pfile = _write_jsonl(run.work / "plan_prompts.jsonl", [{"prompt_id": p.id, "prompt": p.text} for p in prompts])
    _cli(run.commands, "evaluate", "--classifier", str(clf), "--plan", str(cfg.plan_labels), "--generator", spec,
         "--prompts", str(pfile), "--store", f"{run.url}#plan", "--output", str(run.work / "plan"),
         f"plan.pool_size={cfg.pool_size}", "plan.name=plan", f"plan.seed={cfg.seed + 7}",
         f"labels_per_item={len(labellers)}")
    run.timed("plan", t0)
    t0 = time.perf_counter()
    base = admin.client.base_url
    run.counts["plan_labels_given"] = _label_all(str(base), labellers, _queue_id(admin, "plan"))
    run.counts["comparisons"] = {r.name: answer_pairs(str(base), r) for r in raters}
    run.timed("label_plan_and_compare", t0)


def _evaluate(run: _Run, clf: Path, dataset: str, spec: str | None) -> dict[str, Any]:
    out = run.work / f"eval_{dataset}"
    args = ["evaluate", "--classifier", str(clf), "--labels", f"{run.url}#{dataset}", "--output", str(out),
            f"labels.samples_per_prompt={run.cfg.samples_per_prompt}", f"labels.target={run.cfg.target}",
            f"labels.seed={run.cfg.seed + 11}"]
    if spec:
        args += ["--generator", spec]
    t0 = time.perf_counter()
    _cli(run.commands, *args)
    run.timed(f"evaluate_{dataset}", t0)
    return dict(json.loads((out / "summary.json").read_text()))


def _people(cfg: HumanLoopConfig) -> tuple[list[ScriptedLabeller], list[ScriptedRater]]:
    labellers = [ScriptedLabeller(f"labeller{i}", HURT_RULE, e, cfg.seed) for i, e in enumerate(cfg.labeller_errors)]
    raters = [ScriptedRater(f"rater{i}", hurt_rank, cfg.rater_noise, cfg.seed) for i in range(cfg.raters)]
    return labellers, raters


def _accounts(admin: AppClient, labellers: list[ScriptedLabeller], raters: list[ScriptedRater]) -> None:
    for name, role in [(lab.name, "labeller") for lab in labellers] + [(r.name, "rater") for r in raters]:
        admin.post("/api/admin/users", {"username": name, "password": PASSWORD, "roles": [role]})


def run_human_loop(cfg: HumanLoopConfig, work: str | Path, port: int) -> dict[str, Any]:
    """Run the loop (see the module docstring) in ``work``, serving the app on 127.0.0.1:``port``.

    Returns:
        ``{"config", "counts", "agreement", "steps", "commands", "eval", "plan_eval", "truth"}``: the
        summaries ``nines evaluate`` wrote and the :class:`~nines.app.simulate_truth.LoopTruth`.
    """
    from nines.classify.encoder import EncoderClassifier
    from nines.generate.registry import load_generator

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    db = cfg.db or str((work / "app.db").resolve())
    run = _Run(cfg, work, db if "://" in db else f"sqlite:///{db}")
    spec = _spec(cfg)
    t0 = time.perf_counter()
    sizes = {"train": cfg.train_prompts, "eval": cfg.eval_prompts, "plan": cfg.plan_prompts,
             "truth": cfg.truth_prompts}
    prompts = split_prompts(tinystories_prompts(), sizes, cfg.seed)
    gen = load_generator(spec)
    gen = gen.with_options(batch_size=64) if hasattr(gen, "with_options") else gen
    train_rows, empty_train = _rows(gen, prompts["train"], cfg.seed + 1)
    eval_rows, empty_eval = _rows(gen, prompts["eval"], cfg.seed + 2)
    run.counts.update(empty_completions_dropped=empty_train + empty_eval)
    run.timed("generate", t0)
    labellers, raters = _people(cfg)
    create_admin(db)
    server = ServerProcess(db, port, work / "serve.log").start()
    try:
        with AppClient(server.base, "admin") as admin:
            _accounts(admin, labellers, raters)
            t0 = time.perf_counter()
            for name, rows in (("train", train_rows), ("eval", eval_rows)):
                import_rows(admin, name, rows)
                admin.post("/api/admin/queues", {"name": name, "dataset": name, "strategy": "random",
                                                 "labels_per_item": len(labellers), "seed": cfg.seed})
            run.counts["train_labels_given"] = _label_all(server.base, labellers, _queue_id(admin, "train"))
            run.timed("import_and_label_train", t0)
            clf = _classifier(run, admin)
            t0 = time.perf_counter()
            run.counts["eval_labels_given"] = _label_all(server.base, labellers, _queue_id(admin, "eval"))
            run.timed("label_eval", t0)
            if cfg.plan_prompts:
                _plan(run, admin, clf, prompts["plan"], spec, labellers, raters)
            agreement = {q: admin.get(f"/api/admin/queues/{_queue_id(admin, q)}/agreement")
                         for q in ("train", "eval") + (("plan",) if cfg.plan_prompts else ())}
    finally:
        server.stop()
    eval_summary = _evaluate(run, clf, "eval", spec)
    plan_summary = _evaluate(run, clf, "plan", None) if cfg.plan_prompts else None
    t0 = time.perf_counter()
    truth = compute_truth(gen, EncoderClassifier.load(clf, device="cpu"), prompts["truth"], cfg.pool_size, HURT_RULE,
                          majority_error(cfg.labeller_errors), hurt_rank, cfg.rater_noise, cfg.seed + 3)
    run.timed("truth", t0)
    return {"config": asdict(cfg), "generator": spec, "counts": run.counts,
            "agreement": {q: {k: v for k, v in a.items() if k != "disagreements"} for q, a in agreement.items()},
            "steps": run.steps, "commands": run.commands, "eval": eval_summary, "plan_eval": plan_summary,
            "truth": truth.to_dict()}


def _reported(v: dict[str, Any], lower: float) -> tuple[tuple[float, float] | None, str]:
    """``(interval, status)`` of a verdict: ``[lower, upper]`` for an estimate, ``[0, bound]`` for a bound.

    With too few labels (``too_few``) the verdict's upper end, when it has one, is the conservative
    bound the labels do support (no figure is reported, but the bound must still hold).
    """
    if v["status"] == "estimate":
        return (lower, float(v["upper"])), "estimate"
    up = v.get("upper")
    return ((0.0, float(up)) if up is not None and up == up else None), str(v["status"])


def coverage(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each reported interval next to the truth it must cover.

    Checks: the unfiltered failure rate (Clopper-Pearson on the evaluation labels), the filtered one
    reweighted from them, the plan's importance estimate and the coupled win rate, each against the
    truth under the labellers' (or raters') expected answers. The plan's interval is conditional on
    its own pool of ``plan_prompts`` prompts, so its truth allowance adds that pool's sampling error
    (the truth's per-prompt spread over ``plan_prompts``); the others are over prompts already.
    """
    truth, ev, out = result["truth"], result["eval"], []

    def add(name: str, got: tuple[tuple[float, float] | None, str], value: float, se: float,
            estimate: float | None, allowance: float = 0.0) -> None:
        interval, status = got
        lo, hi = interval if interval else (float("nan"), float("nan"))
        out.append({"check": name, "estimate": estimate, "lower": lo, "upper": hi, "truth": value, "truth_se": se,
                    "allowance": allowance, "status": status, "reported": status in ("estimate", "bound"),
                    "covered": interval is not None and lo - allowance <= value <= hi + allowance})

    rel = ev["reliability"]
    if rel.get("ran", True):
        un = rel["unfiltered"]
        add("unfiltered failure rate", ((un["lower"], un["upper"]), "estimate"), truth["unfiltered_labels"],
            truth["unfiltered_se"], un["estimate"])
        at = rel["at_threshold"]
        add("filtered failure rate (reweighted)", _reported(rel["verdict"], at["lower"]), truth["filtered_labels"],
            truth["filtered_se"], at["estimate"])
    plan = result.get("plan_eval")
    if plan:
        pe = plan["plan"]
        est = pe["estimate"] or {}
        pool_se = truth["filtered_se"] * (truth["n_prompts"] / max(result["config"]["plan_prompts"], 1)) ** 0.5
        add("filtered failure rate (plan)", _reported(pe["verdict"], est.get("lower", 0.0)), truth["filtered_labels"],
            truth["filtered_se"], est.get("estimate"), allowance=2 * pool_se)
        for w in plan["winrate"].get("plans", {}).values():
            iv = (w["lower"], w["upper"]) if w["status"] == "estimate" else None
            add("win rate filtered vs unfiltered (coupled)", (iv, w["status"]), truth["winrate"], truth["winrate_se"],
                w.get("estimate"))
    return out
