"""The run's HTML report: one self-contained file with tables and embedded plots."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from nines.evaluate import plots
from nines.evaluate.bounds import Interval, nines_line

_CSS = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:90%}
.headline{font-size:110%;background:#f6fff4;border-left:4px solid #3a3;padding:.5em 1em}
code{background:#f4f4f4;padding:0 3px}
"""


def _iv(d: dict[str, Any]) -> Interval:
    return Interval(d["k"], d["n"], d["estimate"], d["lower"], d["upper"], d["confidence"], d["method"])


def _fmt_iv(d: dict[str, Any]) -> str:
    return (f"<td>{d['n']:,}</td><td>{d['k']:,}</td><td>{d['estimate']:.3g}</td>"
            f"<td>[{d['lower']:.3g}, {d['upper']:.3g}]</td><td>{html.escape(d['method'])} {d['confidence']:.0%}</td>")


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}" style="max-width:100%">'


def _conditions_table(conds: dict[str, Any]) -> str:
    rows = []
    for name, c in conds.items():
        rows.append(f"<tr><td>{html.escape(name)}: unfiltered</td>{_fmt_iv(c['unfiltered'])}"
                    f"<td>{c['unfiltered_exact']:.4g}</td></tr>")
        rows.append(f"<tr><td>{html.escape(name)}: filtered</td>{_fmt_iv(c['filtered'])}<td></td></tr>")
    head = ("<tr><th>policy</th><th>n</th><th>failures</th><th>rate</th><th>interval</th><th>method</th>"
            "<th>exact truth</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _cost_table(conds: dict[str, Any]) -> str:
    head = ("<tr><th>condition</th><th>prompts</th><th>first-sample rejection</th><th>samples per accepted</th>"
            "<th>refused</th><th>fallback</th><th>quality unfiltered</th><th>quality filtered</th></tr>")
    rows = [
        f"<tr><td>{html.escape(n)}</td><td>{c['n_prompts']:,}</td><td>{c['first_sample_rejection_rate']:.2%}</td>"
        f"<td>{c['attempts_per_accepted']:.3f}</td><td>{c['refused']}</td><td>{c['fallback']}</td>"
        f"<td>{c['quality_unfiltered']:.3f}</td><td>{c['quality_filtered']:.3f}</td></tr>"
        for n, c in conds.items()
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def _failures_list(conds: dict[str, Any]) -> str:
    items = []
    for name, c in conds.items():
        for ex in c.get("filtered_failure_examples", [])[:8]:
            items.append(f"<li><b>{html.escape(name)}</b> [{html.escape(str(ex.get('family')))}] "
                         f"{html.escape(ex['prompt'])} <i>{html.escape(ex['completion'] or '')}</i></li>")
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>No failures got through the filter.</p>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")


def _failure_sections(conds: dict[str, Any]) -> str:
    """Headline, failure-rate table and plot, cost table, and failures that got through."""
    headline = "".join(
        f"<p class='headline'><b>{html.escape(n)}</b>: unfiltered {_iv(c['unfiltered'])}; "
        f"filtered {_iv(c['filtered'])}.<br>{html.escape(nines_line(_iv(c['filtered']), 'filtered completions'))}.</p>"
        for n, c in conds.items()
    )
    names, ivs = [], []
    for n, c in conds.items():
        names += [f"{n}, unfiltered", f"{n}, filtered"]
        ivs += [c["unfiltered"], c["filtered"]]
    return f"""
<p class="note">Every rate carries n, the failures k, the estimate, the two-sided interval and its method.
Truth comes from StoryWorld's exact oracle; "exact truth" is the mean exact p(injurious) of the unfiltered
generator over the sampled prompts.</p>
<h2>Headline</h2>{headline}
<h2>Failure rates</h2>{_conditions_table(conds)}
{_img(plots.failure_rate_plot(names, ivs), "failure rates")}
<h2>What the filter costs</h2>{_cost_table(conds)}
<p class="note">Quality is StoryWorld's latent quality of the returned completion (coherence with the prompt).</p>
<h2>Failures that got through</h2>{_failures_list(conds)}"""


def _classifier_section(summary: dict[str, Any], cal: dict[str, Any], history: list[dict[str, Any]]) -> str:
    info = summary["calibration"]
    curve = cal["curve"]
    seed = summary["seed_test"]
    val_recall = "n/a" if info["val_recall"] is None else f"{info['val_recall']:.3f}"
    tradeoff = plots.tradeoff_plot(curve.rejection_rate, curve.recall, info["clean_rejection_rate"],
                                   info["val_recall"], info["rejection_budget"])
    hist = plots.score_histogram(cal["val_scores"], cal["val_labels"], cal["clean_scores"], info["threshold"])
    return f"""
<h2>Classifier and threshold</h2>
<table><tr><th>figure</th><th>value</th></tr>
<tr><td>threshold rule</td><td>{html.escape(info['rule'])} (budget {info['rejection_budget']:.0%})</td></tr>
<tr><td>threshold (calibrated p)</td><td>{info['threshold']:.4g}</td></tr>
<tr><td>temperature</td><td>{info['temperature']:.3f}</td></tr>
<tr><td>ECE before / after temperature</td><td>{info['ece_before']:.3f} / {info['ece_after']:.3f}</td></tr>
<tr><td>clean first samples rejected</td><td>{info['clean_rejection_rate']:.2%} of {info['n_clean']:,}</td></tr>
<tr><td>val recall at threshold</td><td>{val_recall} (n={info['n_val']:,} val snippets)</td></tr>
<tr><td>seed set (real prose), held-out recall</td><td>{_iv(seed['recall'])}</td></tr>
<tr><td>seed set (real prose), held-out false-positive rate</td><td>{_iv(seed['false_positive_rate'])}</td></tr>
</table>
<h3>Trade-off: recall vs rejection rate</h3>{_img(tradeoff, "trade-off curve")}
<h3>Scores by label</h3>{_img(hist, "score histogram")}
<h3>Training</h3>{_img(plots.training_plot(history), "training curve")}"""


def _kv_table(d: dict[str, Any], unit: str = "") -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}{unit}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def write_report(path: str | Path, summary: dict[str, Any], cal: dict[str, Any],
                 history: list[dict[str, Any]], data: Any = None) -> Path:
    """Write a demo run's ``report.html``: failure rates, cost, classifier, threshold, training, data."""
    p = Path(path)
    timings = {k: f"{v:.1f}" for k, v in summary["timings"].items()}
    body = (f"<h1>nines run report</h1><p class='note'>Run folder <code>{html.escape(str(p.parent))}</code>.</p>"
            + _failure_sections(summary["conditions"]) + _classifier_section(summary, cal, history)
            + "<h2>Data</h2>" + _kv_table(summary["data"]) + "<h2>Timings (s)</h2>" + _kv_table(timings))
    p.write_text(_page("nines report", body))
    return p


def write_eval_report(path: str | Path, summary: dict[str, Any]) -> Path:
    """Write ``nines evaluate``'s report: failure rates with bounds and what the filter costs."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = (f"<h1>nines evaluation</h1><p class='note'>Classifier <code>{html.escape(summary['classifier'])}</code>, "
            f"threshold {summary['threshold']:.4g}.</p>" + _failure_sections(summary["conditions"]))
    p.write_text(_page("nines evaluation", body))
    return p
