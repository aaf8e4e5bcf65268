"""index.html of an evaluation report: one self-contained page (inline CSS, base64 images, no scripts)."""

from __future__ import annotations

import html
import math

from .runner import EvalResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222;
padding:0 16px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.ci{color:#888;font-size:.85em}.best{font-weight:bold}
figure{margin:12px 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
.note{color:#555;font-size:.9em}code{background:#f4f4f4;padding:1px 4px}
"""

DEFINITIONS = (
    "<b>recall@k</b> (the CMC value at k): share of queries with a relevant item in the top k. "
    "<b>precision@k</b>: share of the top k that is relevant. <b>map@k</b>: average precision over the top k, "
    "divided by min(k, relevant items). <b>map@r</b> and <b>r_precision</b>: R = relevant items of the query; "
    "MAP@R (Musgrave et al., 2020) and precision in the top R. <b>ndcg@k</b>: binary gains, log2 discount. "
    "Intervals are 95% bootstrap percentiles over queries. Equal scores are ranked by gallery position; k larger "
    "than the gallery is clipped to its size; queries with no relevant item are left out of every mean and "
    "counted above."
)


def _fmt(m: dict | None) -> str:
    if not m or m.get("mean") is None or (isinstance(m["mean"], float) and math.isnan(m["mean"])):
        return "–"
    lo, hi = m["ci95"]
    ci = "" if lo is None or math.isnan(lo) else f" <span class='ci'>[{lo:.3f}, {hi:.3f}]</span>"
    return f"{m['mean']:.3f}{ci}"


def _summary_table(result: EvalResult, metrics: list[str]) -> str:
    best = {m: max((r.summary[m]["mean"] for r in result.models.values()), default=None) for m in metrics}
    head = "".join(f"<th>{html.escape(m)}</th>" for m in metrics)
    rows = []
    for name, r in result.models.items():
        cells = "".join(
            f"<td class='{'best' if len(result.models) > 1 and r.summary[m]['mean'] == best[m] else ''}'>"
            f"{_fmt(r.summary[m])}</td>" for m in metrics)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}<td>{r.seconds:.2f}</td></tr>")
    return f"<table><tr><th>model</th>{head}<th>seconds</th></tr>{''.join(rows)}</table>"


def _fmt_diff(d: dict) -> str:
    lo, hi = d["ci95"]
    ci = "" if math.isnan(lo) else f" <span class='ci'>[{lo:+.3f}, {hi:+.3f}]</span>"
    return f"{d['diff']:+.3f}{ci}"


def _comparison_table(result: EvalResult) -> str:
    if not result.comparisons:
        return ""
    first = next(iter(result.models))
    metrics = list(dict.fromkeys(m for c in result.comparisons.values() for m in c))
    head = "".join(f"<th>Δ {html.escape(m)}</th>" for m in metrics)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{_fmt_diff(c[m])}</td>" for m in metrics) + "</tr>"
        for name, c in result.comparisons.items())
    return (f"<h2>Difference to {html.escape(first)}</h2><p class='note'>Paired over the same queries; an interval "
            f"that excludes 0 is a real difference.</p><table><tr><th>model</th>{head}</tr>{rows}</table>")


def _per_tables(result: EvalResult) -> str:
    first = next(iter(result.models.values()))
    parts = []
    for column, values in first.per.items():
        head = "".join(f"<th>{html.escape(m)} recall@1</th><th>{html.escape(m)} map@r</th>" for m in result.models)
        rows = []
        for value, d in values.items():
            cells = "".join(f"<td>{_fmt(r.per[column][value]['metrics'].get('recall@1'))}</td>"
                            f"<td>{_fmt(r.per[column][value]['metrics'].get('map@r'))}</td>"
                            for r in result.models.values())
            rows.append(f"<tr><td>{html.escape(value)}</td><td>{d['n']}</td>{cells}</tr>")
        parts.append(f"<details><summary>per {html.escape(column)} ({len(values)} values)</summary>"
                     f"<table><tr><th>{html.escape(column)}</th><th>queries</th>{head}</tr>{''.join(rows)}"
                     "</table></details>")
    return "".join(parts)


def _protocol(result: EvalResult, ws_root: str) -> str:
    p, es = result.protocol, result.eval_set
    first = next(iter(result.models.values()))
    no_rel = int((first.scores.n_rel == 0).sum())
    gallery = "the query set (leave-one-out)" if p.leave_one_out else (" & ".join(p.gallery) or "all images")
    return (
        "<table>"
        f"<tr><td>workspace</td><td>{ws_root}</td></tr>"
        f"<tr><td>queries</td><td>{html.escape(' & '.join(p.query) or 'all images')}: {len(es.query_images)} "
        "images</td></tr>"
        f"<tr><td>gallery</td><td>{html.escape(gallery)}: {len(es.gallery_items)} {p.unit}s "
        f"({len(es.gallery_images)} images)</td></tr>"
        f"<tr><td>relevant when</td><td>same <code>{html.escape(p.relevant)}</code></td></tr>"
        f"<tr><td>queries without a relevant item</td><td>{no_rel} (left out of the means)</td></tr>"
        "</table>"
    )


def render_index(result: EvalResult, pngs: dict[str, str], embedding_plot: str | None, ws_root: str) -> str:
    """The whole page as a string; pngs maps captions to data: URIs."""
    first = next(iter(result.models.values()))
    metrics = [m for m in ("recall@1", "recall@5", "recall@10", "recall@20", "precision@5", "map@r",
                           "r_precision", "map@10", "ndcg@10") if m in first.summary]
    figures = "".join(f"<figure><img alt='{html.escape(c)}' src='{b}'>"
                      f"<figcaption>{html.escape(c)}</figcaption></figure>" for c, b in pngs.items())
    link = (f"<p>Interactive 3D view of the embedding space: <a href='{html.escape(embedding_plot)}'>"
            f"{html.escape(embedding_plot)}</a></p>" if embedding_plot else "")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>lookalike evaluation: {html.escape(', '.join(result.models))}</title><style>{CSS}</style></head>"
        f"<body><h1>Retrieval quality: {html.escape(', '.join(result.models))}</h1>"
        f"{_protocol(result, ws_root)}<h2>Summary</h2>{_summary_table(result, metrics)}"
        f"<p class='note'>{DEFINITIONS}</p>{_comparison_table(result)}{link}"
        f"<h2>Figures</h2>{figures}{_per_tables(result)}"
        "<p class='note'>All numbers are in metrics.json beside this page.</p></body></html>"
    )
