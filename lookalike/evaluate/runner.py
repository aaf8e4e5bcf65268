"""Run one protocol over several models with cached workspace embeddings, the same queries for every model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..workspace import Workspace
from .bootstrap import N_BOOT, bootstrap_ci, paired_ci
from .metrics import DEFAULT_KS, QueryScores, cmc_curve, mean_valid, score_queries
from .protocol import EvalSet, Protocol, build_eval_set, embedded_images, model_vectors

#: metrics whose difference to the first model gets a paired interval
COMPARED = ("recall@1", "recall@5", "map@r")


@dataclass
class ModelResult:
    """One model's per-query scores and their summaries."""

    model: str
    scores: QueryScores
    summary: dict[str, dict]
    cmc: list[float]
    per: dict[str, dict[str, dict]]
    seconds: float

    def to_dict(self) -> dict:
        """Plain form for metrics.json."""
        return {"metrics": self.summary, "cmc": self.cmc, "per": self.per, "seconds": round(self.seconds, 3),
                "queries_without_relevant": int((self.scores.n_rel == 0).sum())}


@dataclass
class EvalResult:
    """Everything a report shows: protocol, concrete sets, and each model's results."""

    protocol: Protocol
    eval_set: EvalSet
    ks: tuple[int, ...]
    query_meta: list[dict]
    models: dict[str, ModelResult] = field(default_factory=dict)
    comparisons: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The content of metrics.json."""
        es = self.eval_set
        first = next(iter(self.models.values()), None)
        return {
            "protocol": self.protocol.to_dict(), "ks": list(self.ks),
            "n_queries": len(es.query_images), "n_gallery_items": len(es.gallery_items),
            "n_gallery_images": len(es.gallery_images),
            "queries_without_relevant": int((first.scores.n_rel == 0).sum()) if first else 0,
            "embedded_images": es.dropped.get("embedded_images"),
            "models": {m: r.to_dict() for m, r in self.models.items()},
            "compared_to_first": self.comparisons,
        }


def summarize(values: dict[str, np.ndarray], n_boot: int) -> dict[str, dict]:
    """Mean and bootstrap 95% interval of every metric."""
    out = {}
    for name, v in values.items():
        lo, hi = bootstrap_ci(v, n_boot)
        out[name] = {"mean": mean_valid(v), "ci95": [lo, hi], "n": int((~np.isnan(v)).sum())}
    return out


def breakdown(values: dict[str, np.ndarray], groups: list[str], n_boot: int) -> dict[str, dict]:
    """Per value of a query column: query count and summaries of every metric over those queries."""
    keys = np.array(groups)
    out = {}
    for value in sorted(set(groups)):
        mask = keys == value
        out[value] = {"n": int(mask.sum()), "metrics": summarize({k: v[mask] for k, v in values.items()}, n_boot)}
    return out


def evaluate(ws: Workspace, models: list[str], protocol: Protocol, ks=DEFAULT_KS, per: list[str] | None = None,
             n_boot: int = N_BOOT) -> EvalResult:
    """Evaluate each model on the same queries and gallery (images embedded by all of them)."""
    ks = tuple(sorted({int(k) for k in ks}))
    embedded = embedded_images(ws, models)
    common = None
    for ids, _ in embedded.values():
        common = ids if common is None else np.intersect1d(common, ids)
    es = build_eval_set(ws, protocol, common)
    meta = ws.catalog.products()
    query_meta = [{"id": p, **meta[p]} for p in es.query_products]
    result = EvalResult(protocol, es, ks, query_meta)
    for name in models:
        result.models[name] = evaluate_model(name, embedded[name], es, ks, per or [], query_meta, n_boot)
    result.comparisons = compare(result.models, n_boot)
    return result


def evaluate_model(name: str, vectors, es: EvalSet, ks, per: list[str], query_meta: list[dict],
                   n_boot: int) -> ModelResult:
    """Rank and score one model, then summarise overall and per category."""
    start = time.perf_counter()
    q = model_vectors(vectors, es.query_images)
    g = model_vectors(vectors, es.gallery_images)
    scores = score_queries(q, es.query_labels, g, es.gallery_labels, ks, es.exclude, es.gallery_groups)
    seconds = time.perf_counter() - start
    n_items = len(es.gallery_items) - (1 if (es.exclude >= 0).all() else 0)
    cmc = [round(float(x), 6) for x in cmc_curve(scores.first_rank, scores.n_rel, max(1, n_items))]
    per_col = {col: breakdown(scores.values, [str(m.get(col, "")) for m in query_meta], n_boot) for col in per}
    return ModelResult(name, scores, summarize(scores.values, n_boot), cmc, per_col, seconds)


def compare(results: dict[str, ModelResult], n_boot: int) -> dict[str, dict]:
    """Paired differences (model minus the first model) with intervals, over the same queries."""
    names = list(results)
    out: dict[str, dict] = {}
    for name in names[1:]:
        a, b = results[name].scores.values, results[names[0]].scores.values
        out[name] = {m: {"diff": mean_valid(a[m] - b[m]), "ci95": list(paired_ci(a[m], b[m], n_boot))}
                     for m in COMPARED if m in a}
    return out
