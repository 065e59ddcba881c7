"""The run's HTML report: one self-contained file with tables and embedded plots."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nines.evaluate import plots
from nines.stats.binomial import Interval, nines_line
from nines.tasks import TaskConfig

if TYPE_CHECKING:
    from nines.classify.calibrate import Calibration
    from nines.evaluate.measure_results import BatchVsSequential, Measurements, Reliability, Understanding
    from nines.evaluate.prose_eval import ProseMetrics
    from nines.evaluate.results import Evaluation, RunSummary
    from nines.evaluate.storyworld_eval import ConditionResult

_CSS = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:90%}
.headline{font-size:110%;background:#f6fff4;border-left:4px solid #3a3;padding:.5em 1em}
code{background:#f4f4f4;padding:0 3px}
"""


def _fmt_iv(iv: Interval) -> str:
    return (f"<td>{iv.n:,}</td><td>{iv.k:,}</td><td>{iv.estimate:.3g}</td>"
            f"<td>[{iv.lower:.3g}, {iv.upper:.3g}]</td><td>{html.escape(iv.method)} {iv.confidence:.0%}</td>")


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}" style="max-width:100%">'


def _conditions_table(conds: Sequence[ConditionResult]) -> str:
    rows = []
    for c in conds:
        name = html.escape(c.name)
        rows.append(f"<tr><td>{name}: unfiltered</td>{_fmt_iv(c.unfiltered)}<td>{c.unfiltered_exact:.4g}</td></tr>")
        rows.append(f"<tr><td>{name}: filtered</td>{_fmt_iv(c.filtered)}<td></td></tr>")
    head = ("<tr><th>policy</th><th>n</th><th>failures</th><th>rate</th><th>interval</th><th>method</th>"
            "<th>exact truth</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _cost_table(conds: Sequence[ConditionResult]) -> str:
    head = ("<tr><th>condition</th><th>prompts</th><th>first-sample rejection</th><th>samples per accepted</th>"
            "<th>refused</th><th>fallback</th><th>quality unfiltered</th><th>quality filtered</th></tr>")
    rows = [
        f"<tr><td>{html.escape(c.name)}</td><td>{c.n_prompts:,}</td><td>{c.first_sample_rejection_rate:.2%}</td>"
        f"<td>{c.attempts_per_accepted:.3f}</td><td>{c.refused}</td><td>{c.fallback}</td>"
        f"<td>{c.quality_unfiltered:.3f}</td><td>{c.quality_filtered:.3f}</td></tr>"
        for c in conds
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def _failures_list(conds: Sequence[ConditionResult]) -> str:
    items = []
    for c in conds:
        for ex in c.filtered_failure_examples[:8]:
            items.append(f"<li><b>{html.escape(c.name)}</b> [{html.escape(str(ex.get('family')))}] "
                         f"{html.escape(ex['prompt'])} <i>{html.escape(ex['completion'] or '')}</i></li>")
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>No failures got through the filter.</p>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")


def _failure_sections(conds: Sequence[ConditionResult], task: TaskConfig) -> str:
    """Headline, failure-rate table and plot, cost table, and failures that got through."""
    headline = "".join(
        f"<p class='headline'><b>{html.escape(c.name)}</b>: unfiltered {c.unfiltered}; "
        f"filtered {c.filtered}.<br>{html.escape(nines_line(c.filtered, 'filtered completions'))}.</p>"
        for c in conds
    )
    names: list[str] = []
    ivs: list[Interval] = []
    for c in conds:
        names += [f"{c.name}, unfiltered", f"{c.name}, filtered"]
        ivs += [c.unfiltered, c.filtered]
    return f"""
<p class="note">Every rate carries n, the failures k, the estimate, the two-sided interval and its method.
Truth comes from StoryWorld's exact oracle; "exact truth" is the mean exact p({html.escape(task.positive)}) of the
unfiltered generator over the sampled prompts. A failure is a completion labelled
<b>{html.escape(task.positive)}</b> (task <code>{html.escape(task.name)}</code>: {html.escape(task.predicate)}).</p>
<h2>Headline</h2>{headline}
<h2>Failure rates</h2>{_conditions_table(conds)}
{_img(plots.failure_rate_plot(names, ivs, positive=task.positive), "failure rates")}
<h2>What the filter costs</h2>{_cost_table(conds)}
<p class="note">Quality is StoryWorld's latent quality of the returned completion (coherence with the prompt).</p>
<h2>Failures that got through</h2>{_failures_list(conds)}"""


def _classifier_section(summary: RunSummary, task: TaskConfig) -> str:
    cal, seed = summary.calibration, summary.seed_test
    val_recall = "n/a" if cal.val_recall is None else f"{cal.val_recall:.3f}"
    tradeoff = plots.tradeoff_plot(cal.curve.rejection_rate, cal.curve.recall, cal.clean_rejection_rate,
                                   cal.val_recall, cal.rejection_budget, positive=task.positive)
    hist = plots.score_histogram(cal.val_scores, cal.val_labels, cal.clean_scores, cal.threshold,
                                 positive=task.positive, negative=task.negative)
    return f"""
<h2>Classifier and threshold</h2>
<table><tr><th>figure</th><th>value</th></tr>
<tr><td>threshold rule</td><td>{html.escape(cal.rule)} (budget {cal.rejection_budget:.0%})</td></tr>
<tr><td>threshold (calibrated {html.escape(task.score_field)})</td><td>{cal.threshold:.4g}</td></tr>
<tr><td>temperature</td><td>{cal.temperature:.3f}</td></tr>
<tr><td>ECE before / after temperature</td><td>{cal.ece_before:.3f} / {cal.ece_after:.3f}</td></tr>
<tr><td>clean first samples rejected</td><td>{cal.clean_rejection_rate:.2%} of {cal.n_clean:,}</td></tr>
<tr><td>val recall at threshold</td><td>{val_recall} (n={cal.n_val:,} val snippets)</td></tr>
<tr><td>seed set (real prose), held-out recall</td><td>{seed.recall}</td></tr>
<tr><td>seed set (real prose), held-out false-positive rate</td><td>{seed.false_positive_rate}</td></tr>
</table>
{_pools_table(cal)}{_real_prose_section(summary.real_prose, task)}
<h3>Trade-off: recall vs rejection rate</h3>{_img(tradeoff, "trade-off curve")}
<h3>Scores by label</h3>{_img(hist, "score histogram")}
<h3>Training</h3>{_img(plots.training_plot(summary.training_history), "training curve")}"""


def _pools_table(cal: Calibration) -> str:
    if len(cal.pools) < 2:
        return ""
    rows = "".join(f"<tr><td>{html.escape(p.name)}</td><td>{p.n:,}</td><td>{p.budget:.0%}</td>"
                   f"<td>{p.rejection_rate:.2%}</td><td>{p.threshold_alone:.4g}</td></tr>"
                   for p in cal.pools)
    return f"""
<h3>Clean pools: rejection at the threshold</h3>
<table><tr><th>pool</th><th>samples</th><th>budget</th><th>rejected at threshold</th><th>threshold from this pool alone</th></tr>
{rows}</table>"""


def _real_prose_section(sets: Sequence[ProseMetrics], task: TaskConfig) -> str:
    if not sets:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(m.name)}</td><td>{m.n:,} ({m.n_injurious:,} {html.escape(task.positive)})</td>"
        f"<td>{m.recall}</td><td>{m.false_flag_rate}</td>"
        f"<td>{'n/a' if m.auc is None else format(m.auc, '.3f')}</td>"
        f"<td>{'n/a' if m.recall_at_matched is None else format(m.recall_at_matched, '.3f')}</td></tr>"
        for m in sets)
    dev = "" if any(m.name == "devset" for m in sets) else (
        "<p class=\"note\">The third-party dev set was not measured: it is rebuilt from ../shared, "
        "which this machine lacks.</p>")
    return f"""
<h3>Real prose</h3>
<p>Labelled real prose at the shipped threshold: the seed set's and the real-prose corpus's test parts, and the
third-party dev set (TinyStories and Grimm sentences, labelled by the guide) when ../shared is present.
"Recall at matched rate" is the recall at the false-flag rate the threshold gives on the seed test set.</p>
<table><tr><th>set</th><th>pairs</th><th>recall</th><th>false-flag rate</th><th>ROC AUC</th>
<th>recall at matched rate</th></tr>{rows}</table>{dev}"""


def _reliability_section(rel: Reliability, threshold: float, direct: Interval | None, task: TaskConfig) -> str:
    at, pooled = rel.at_threshold, rel.pooled_at_threshold
    rows = "".join(
        f"<tr><td>{t:.4g}</td><td>{a:.3f}</td><td>{e:.3g}</td><td>[{lo:.3g}, {hi:.3g}]</td></tr>"
        for t, a, e, lo, hi in zip(rel.thresholds, rel.acceptance, rel.estimate, rel.lower, rel.upper))
    direct_txt = (f"The direct filter run on fresh prompts measured {direct}." if direct else "")
    return f"""
<h2>Reliability from unfiltered labels</h2>
<p>One labelled set of {rel.n_labels:,} unfiltered first samples ({rel.n_failures_unfiltered} {html.escape(task.positive)};
condition: {html.escape(rel.condition)}), plus {rel.samples_per_prompt} classifier-scored samples per prompt
to estimate P(accept | prompt), evaluates the filtered policy at every threshold by reweighting
(weights a / P(accept | prompt); {html.escape(rel.method)}).</p>
<p class="headline">At the chosen threshold: {at.estimate:.3g} [{at.lower:.3g}, {at.upper:.3g}]
(n={at.n:,} labels, {at.n_accepted:,} accepted, effective sample size {at.effective_sample_size:.0f}).
{direct_txt} The naive pooled estimate (share of accepted labelled rows that fail, biased when acceptance varies
by prompt) is {pooled['estimate']:.3g} [{pooled['lower']:.3g}, {pooled['upper']:.3g}].</p>
{_img(plots.failure_vs_threshold_plot(rel.to_dict(), threshold, direct), "failure rate vs threshold")}
<table><tr><th>threshold</th><th>acceptance</th><th>failure rate</th><th>95% interval</th></tr>{rows}</table>"""


def _winrate_section(wr: dict[str, Any]) -> str:
    names = list(wr)
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{w['n_prompts']:,}</td><td>{w['judge_calls']:,}</td>"
        f"<td>{w['estimate']:.3f}</td><td>[{w['lower']:.3f}, {w['upper']:.3f}]</td>"
        f"<td>{html.escape(w['design'])}, {html.escape(w['method'])} {w['confidence']:.0%}</td></tr>"
        for n, w in wr.items())
    judge = html.escape(next(iter(wr.values()))["judge"]) if wr else ""
    return f"""
<h2>Quality: win rate of filtered vs unfiltered</h2>
<p>P(a filtered completion beats an unfiltered one), ties counting 1/2; 0.5 means the filter costs nothing.
Judge: {judge}. Coupled design: the first unfiltered sample is compared with the filtered one only when
the filter rejected it; when it was accepted the two policies return the same completion and the pair counts
exactly 1/2, which saves those judge calls without bias.</p>
<table><tr><th>condition</th><th>prompts</th><th>judge calls</th><th>win rate</th><th>interval</th><th>method</th></tr>{rows}</table>
{_img(plots.winrate_plot(names, list(wr.values())), "win rate")}"""


def _policy_section(pol: BatchVsSequential) -> str:
    c = pol.comparison
    return f"""
<h2>Batch of {pol.k}, keep the safest vs sequential rejection sampling</h2>
<p>{html.escape(pol.sentence)}</p>
<p class="note">Exact output distributions of both policies on {pol.n_prompts} prompts' pools of
{pol.pool_size} scored completions (condition: {html.escape(pol.condition)}); standard errors over prompts:
failure difference {pol.failure_diff_se:.2g}, quality difference {pol.quality_diff_se:.2g}.
Raw figures: {html.escape(str({k: (round(v, 5) if isinstance(v, float) else v) for k, v in c.items()}))}</p>"""


def _understanding_section(u: Understanding, task: TaskConfig) -> str:
    if not u.n_failures:
        return "<h2>Does the generator understand its failures?</h2><p>No filtered failures to analyse.</p>"
    items = "".join(
        f"<li>{'<b>egregious</b>' if ex['egregious'] else 'subtle'} ({ex['rate']:.0%}): {html.escape(ex['prompt'])} "
        f"<i>{html.escape(ex['completion'])}</i></li>" for ex in u.examples)
    return f"""
<h2>Does the generator understand its failures?</h2>
<p>Each filtered failure ({html.escape(task.positive)}, yet accepted) is fed back to the generator, which writes
{u.continuations} continuations; a failure is <b>egregious</b> when at least {u.threshold:.0%} of them imply
{"the injury happened" if task.name == "injury" else "the failure holds"} (the generator itself knows), subtle otherwise. Generator: {html.escape(u.generator)}.</p>
<p class="headline">{u.egregious} egregious and {u.subtle} subtle out of {u.n_failures} failures.</p>
<ul>{items}</ul>"""


def _measures(measures: Measurements | None, threshold: float, conds: Sequence[ConditionResult],
              task: TaskConfig) -> str:
    if measures is None:
        return ""
    rel = measures.reliability
    direct = next((c.filtered for c in conds if c.name == rel.condition), None)
    return (_reliability_section(rel, threshold, direct, task) + _winrate_section(measures.winrate)
            + _policy_section(measures.batch_vs_sequential) + _understanding_section(measures.understanding, task))


def active_learning_section(al: dict[str, Any] | None) -> str:
    """Learning curves from ``benchmarks/active_learning.py --out FILE`` (mean recall per label count)."""
    if not al:
        return ""
    curves: dict[str, list[tuple[float, float]]] = {}
    for strategy, runs in al["curves"].items():
        by_labels: dict[int, list[float]] = {}
        for run in runs:
            for n, r in zip(run["labels"], run["recall"]):
                by_labels.setdefault(int(n), []).append(float(r))
        curves[strategy] = sorted((n, sum(v) / len(v)) for n, v in by_labels.items())
    cfg = al.get("config", {})
    rows = "".join(
        f"<tr><td>{html.escape(s)}</td><td>{html.escape(str(v.get('mean')))}</td>"
        f"<td>{html.escape(str(v.get('ratio_to_random')))}</td></tr>" for s, v in al.get("summary", {}).items())
    return f"""
<h2>Active learning</h2>
<p>Labels needed to reach recall {cfg.get('target')} at a {cfg.get('budget')} rejection budget, from the same start
(StoryWorld pool, hashed n-gram logistic regression refit every round; <code>benchmarks/active_learning.py</code>).</p>
<table><tr><th>strategy</th><th>mean labels to target</th><th>vs random</th></tr>{rows}</table>
{_img(plots.active_learning_plot(curves, cfg.get('target')), "active learning curves")}"""


def _kv_table(d: dict[str, Any], unit: str = "") -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}{unit}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def write_report(path: str | Path, summary: RunSummary, active_learning: dict[str, Any] | None = None,
                 distillation_html: str = "", task: TaskConfig | None = None) -> Path:
    """Write a demo run's ``report.html``: failure rates, cost, distillation, classifier, threshold, training, data.

    ``distillation_html`` is the distillation section, rendered by the caller
    (:func:`nines.distill.report.distill_section`): evaluation sits below distillation in the layers.
    ``task`` names the predicate in the text (default: the injury task, StoryWorld's).
    """
    p = Path(path)
    task = task or TaskConfig()
    conds = summary.evaluation.conditions
    timings = {k: f"{v:.1f}" for k, v in summary.timings.items()}
    body = (f"<h1>nines run report</h1><p class='note'>Run folder <code>{html.escape(str(p.parent))}</code>.</p>"
            + _failure_sections(conds, task)
            + _measures(summary.evaluation.measures, summary.calibration.threshold, conds, task)
            + distillation_html
            + active_learning_section(active_learning) + _classifier_section(summary, task)
            + "<h2>Data</h2>" + _kv_table(summary.data) + "<h2>Timings (s)</h2>" + _kv_table(timings))
    p.write_text(_page("nines report", body))
    return p


def write_eval_report(path: str | Path, evaluation: Evaluation, active_learning: dict[str, Any] | None = None,
                      task: TaskConfig | None = None) -> Path:
    """Write ``nines evaluate``'s report: failure rates with bounds and what the filter costs.

    ``task`` names the predicate in the text (default: the injury task, StoryWorld's).
    """
    p = Path(path)
    task = task or TaskConfig()
    p.parent.mkdir(parents=True, exist_ok=True)
    body = (f"<h1>nines evaluation</h1><p class='note'>Classifier <code>{html.escape(evaluation.classifier)}</code>, "
            f"threshold {evaluation.threshold:.4g}.</p>" + _failure_sections(evaluation.conditions, task)
            + _measures(evaluation.measures, evaluation.threshold, evaluation.conditions, task)
            + active_learning_section(active_learning))
    p.write_text(_page("nines evaluation", body))
    return p
