"""Prometheus metrics: request counts and latencies by route, plus catalog and index sizes read at scrape time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from .state import ServeState

#: latency buckets in seconds, from a cached thumbnail to a multi-photo search on a busy CPU
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _StateCollector:
    """Sizes that are read when Prometheus scrapes, so they are never stale."""

    def __init__(self, state: ServeState):
        self.state = state

    def collect(self):
        """Yield the gauge families."""
        index = GaugeMetricFamily("lookalike_index_vectors", "Vectors in the served index", labels=["model"])
        for model, searcher in self.state.loaded().items():
            index.add_metric([model], len(searcher.index))
        yield index
        cat = self.state.ws.catalog
        yield GaugeMetricFamily("lookalike_catalog_products", "Products in the catalog", value=cat.count("products"))
        images = GaugeMetricFamily("lookalike_catalog_images", "Catalog images by status", labels=["status"])
        rows = cat.conn().execute("SELECT status, COUNT(*) FROM images GROUP BY status").fetchall()
        for status, n in rows:
            images.add_metric([status], n)
        yield images
        yield GaugeMetricFamily("lookalike_index_swaps", "Index swaps since start", value=self.state.generation)
        running = 1 if self.state.reindex.get("state") == "running" else 0
        yield GaugeMetricFamily("lookalike_reindex_running", "1 while a reindex runs", value=running)


class Metrics:
    """A private registry per app, so several apps (tests) never collide."""

    def __init__(self, state: ServeState):
        disable_created_metrics()  # the *_created series only add noise to a scrape
        self.registry = CollectorRegistry()
        self.requests = Counter("lookalike_requests", "HTTP requests by method, route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("lookalike_request_duration_seconds", "HTTP request latency by method and route",
                                 ["method", "route"], buckets=BUCKETS, registry=self.registry)
        self.registry.register(_StateCollector(state))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
