"""The report of ``nines evaluate --labels``: figures from a team's own labels, and what they cannot yet say."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from nines.evaluate import plots
from nines.evaluate.report import _img, _page
from nines.tasks import BUILTIN, TaskConfig

__all__ = ["labels_report_body", "write_labels_report"]


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _verdict(v: dict[str, Any]) -> str:
    more = "" if v["more_labels"] in (None, 0) else f" More labels needed: <b>{v['more_labels']:,}</b>."
    return (f"<p class='note'>Target: rate below {v['target']:.3g}. Status <b>{_esc(v['status'])}</b>: "
            f"{_esc(v['reason'])}.{more}</p>")


def _reliability(rel: dict[str, Any]) -> str:
    if not rel.get("ran", True):
        return f"<h2>Filtered failure rate, reweighted from unfiltered labels</h2><p>Not measured: {_esc(rel['reason'])}.</p>"
    at, v, un = rel["at_threshold"], rel["verdict"], rel["unfiltered"]
    head = (f"{at['estimate']:.3g} [{at['lower']:.3g}, {v['upper']:.3g}]" if v["status"] == "estimate"
            else f"below {v['upper']:.3g} (zero-failure bound)" if v["status"] == "bound"
            else "no defensible figure yet")
    rows = "".join(f"<tr><td>{t:.6g}</td><td>{a:.3f}</td><td>{e:.3g}</td><td>[{lo:.3g}, {hi:.3g}]</td></tr>"
                   for t, a, e, lo, hi in zip(rel["thresholds"], rel["acceptance"], rel["estimate"], rel["lower"],
                                              rel["upper"]))
    notes = "".join(f"<p class='note'>{_esc(n)}</p>" for n in rel["notes"])
    pooled = rel["pooled_at_threshold"]
    return f"""
<h2>Filtered failure rate, reweighted from unfiltered labels</h2>
<p>{rel['n_labels']:,} labelled unfiltered samples over {rel['n_prompts']:,} prompts ({rel['n_failures_unfiltered']:,}
failures: unfiltered rate {un['estimate']:.3g} [{un['lower']:.3g}, {un['upper']:.3g}], Clopper-Pearson). Each labelled
sample's classifier score decides whether the filter accepts it; P(accept | prompt) comes from
{rel['samples_per_prompt']:.1f} scored samples per prompt ({_esc(rel['acceptance_from'])}), and the weights
accepted / P(accept | prompt) give the filtered policy's rate at every threshold ({_esc(rel['method'])}).</p>
<p class="headline">At the threshold {rel['threshold']:.4g}: {head} (n={at['n']:,} labels, {at['n_accepted']:,} accepted,
{at['n_failures']:,} accepted failures, effective sample size {at['effective_sample_size']:.0f}).
The naive pooled estimate is {pooled['estimate']:.3g} [{pooled['lower']:.3g}, {pooled['upper']:.3g}].</p>
{_verdict(v)}{notes}
{_img(plots.failure_vs_threshold_plot(rel, rel['threshold']), "failure rate vs threshold")}
<table><tr><th>threshold</th><th>acceptance</th><th>failure rate</th><th>interval</th></tr>{rows}</table>"""


def _plan(plan: dict[str, Any] | None) -> str:
    if plan is None:
        return ""
    est, v = plan["estimate"], plan["verdict"]
    fig = ("no estimate yet" if est is None else
           f"{est['estimate']:.3g} [{est['lower']:.3g}, {est['upper']:.3g}] (conservative upper "
           f"{est['conservative_upper']:.3g}, largest weight {est['max_weight']:.3g})")
    missing = "" if not plan["unlabelled"] else f" {plan['unlabelled']:,} planned labels are still missing."
    return f"""
<h2>Filtered failure rate from the labelling plan {_esc(plan['plan'])!s}</h2>
<p>The {_esc(plan['design'])} plan chose which unfiltered samples to label with known inclusion probabilities,
concentrated near the threshold where accepted failures live; its estimate reweights by them
(the estimand is the filtered policy's failure rate over the plan's prompts).{missing}</p>
<p class="headline">{plan['labels']:,} labels, {plan['failures']:,} failures: {fig}.</p>{_verdict(v)}"""


def _winrate(wr: dict[str, Any]) -> str:
    if not wr["present"]:
        return f"<h2>Quality: win rate of filtered vs unfiltered</h2><p>Absent: {_esc(wr['reason'])}.</p>"
    parts = []
    for name, w in wr["plans"].items():
        counts = (f"{w['prompts']:,} prompts: {w['accepted_first']:,} first samples accepted (count 1/2), "
                  f"{w['pairs']:,} pairs queued, {w['compared']:,} compared, {w['refused']:,} refused")
        if w["status"] == "estimate":
            parts.append(f"<p class='headline'>Plan {_esc(name)}: {w['estimate']:.3f} [{w['lower']:.3f}, "
                         f"{w['upper']:.3f}] ({counts}).</p>")
        else:
            parts.append(f"<p>Plan {_esc(name)}: {_esc(w['reason'])} ({counts}).</p>")
    est = {n: w for n, w in wr["plans"].items() if w["status"] == "estimate"}
    img = _img(plots.winrate_plot(list(est), list(est.values())), "win rate") if est else ""
    return f"""
<h2>Quality: win rate of filtered vs unfiltered</h2>
<p>From people's pairwise comparisons, by the coupled design: a prompt whose first unfiltered sample the filter
accepts counts exactly 1/2, and only the others were compared. 0.5 means the filter costs nothing.</p>
{''.join(parts)}{img}"""


def _understanding(u: dict[str, Any]) -> str:
    if not u["ran"]:
        return f"<h2>Does the generator understand its failures?</h2><p>Not run: {_esc(u['reason'])}.</p>"
    items = "".join(f"<li>{'<b>egregious</b>' if ex['egregious'] else 'subtle'} ({ex['rate']:.0%}): "
                    f"{_esc(ex['prompt'])} <i>{_esc(ex['completion'])}</i></li>" for ex in u["examples"])
    return f"""
<h2>Does the generator understand its failures?</h2>
<p>Each accepted labelled failure goes back to the generator ({_esc(u['generator'])}) for {u['continuations']}
continuations, judged by {_esc(u['judge'])}; it is <b>egregious</b> when at least {u['threshold']:.0%} of them
continue the failure.</p>
<p class="headline">{u['egregious']} egregious and {u['subtle']} subtle out of {u['n_failures']} failures.</p><ul>{items}</ul>"""


def _task_of(ev: dict[str, Any], task: TaskConfig | None) -> TaskConfig:
    """``task``, else the built-in task ``ev["task"]`` names, else the injury task."""
    if task is not None:
        return task
    return BUILTIN.get(str(ev.get("task")), TaskConfig())


def _task_line(task: TaskConfig) -> str:
    return (f"<p class='note'>Task <code>{_esc(task.name)}</code>: a failure is a completion labelled "
            f"<b>{_esc(task.positive)}</b> ({_esc(task.predicate)}); otherwise <b>{_esc(task.negative)}</b>. "
            f"The classifier's calibrated score is <code>{_esc(task.score_field)}</code>.</p>")


def labels_report_body(ev: dict[str, Any], task: TaskConfig | None = None) -> str:
    """The report's body from :meth:`nines.recipes.labels_eval.LabelsEvaluation.to_dict`'s dict.

    ``task`` names the predicate (default: the built-in task ``ev["task"]`` names, else injury).
    """
    task = _task_of(ev, task)
    src = ev["source"]
    gen = ev["generator"] or "none given"
    return (f"<h1>nines evaluation on your labels</h1><p class='note'>Classifier <code>{_esc(ev['classifier'])}</code>, "
            f"threshold {ev['threshold']:.4g}; generator <code>{_esc(gen)}</code>; labels from "
            f"<code>{_esc(src['source'])}</code> ({src['labels']:,} decided, {src['failures']:,} failures "
            f"labelled {_esc(task.positive)}, {src['skipped']:,} without a decided label). No simulated oracle is "
            f"involved.</p>" + _task_line(task)
            + _reliability(ev["reliability"]) + _plan(ev["plan"]) + _winrate(ev["winrate"])
            + _understanding(ev["understanding"]))


def write_labels_report(path: str | Path, ev: dict[str, Any], task: TaskConfig | None = None) -> Path:
    """Write ``report.html`` for a labels evaluation (its ``to_dict``); ``task`` as in :func:`labels_report_body`."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(_page("nines evaluation (your labels)", labels_report_body(ev, task)))
    return p
