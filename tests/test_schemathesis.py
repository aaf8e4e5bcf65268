"""Property-based requests generated from the OpenAPI schema (Schemathesis): no input gives a server error."""

from __future__ import annotations

import shutil

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs Schemathesis: pip install schemathesis")
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

KEY = "schemathesis-key"


@pytest.fixture(scope="module")
def api_schema(demo_ws, tmp_path_factory):
    """The app's own schema, over a private copy of the demo workspace (admin writes are exercised too)."""
    from lookalike.serve.app import create_app
    from lookalike.serve.settings import Settings
    from lookalike.workspace import Workspace

    demo_ws.catalog.conn().execute("PRAGMA wal_checkpoint(FULL)")
    root = tmp_path_factory.mktemp("schemathesis") / "ws"
    shutil.copytree(demo_ws.root, root)
    app = create_app(Workspace(root), Settings(api_key=KEY, request_timeout_s=60))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.lookalike.wait_reindex(60)


#: examples generated per operation: enough to hit every parameter with odd values, small enough for 2 cores
MAX_EXAMPLES = 8


@pytest.mark.slow
def test_no_server_errors(api_schema):
    """Every generated request, to every operation, gets an answer below 500."""
    from hypothesis import given

    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(checks=[not_a_server_error], headers={"X-API-Key": KEY})

        try:
            run()
        except Exception as e:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {e}")
    assert not failures, "\n\n".join(failures)
    calls = _calls_by_route(api_schema.app)
    print(calls)
    assert {"/search", "/products", "/products/{product_id:path}/similar", "/images/{image_id}/thumb",
            "/reindex", "/health"} <= set(calls), calls


def _calls_by_route(app) -> dict[str, dict[str, float]]:
    """{route: {status: count}} from the app's own request counter: proof the generated requests arrived."""
    out: dict[str, dict[str, float]] = {}
    for family in app.state.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "lookalike_requests_total":
                route = out.setdefault(sample.labels["route"], {})
                route[sample.labels["status"]] = route.get(sample.labels["status"], 0) + sample.value
    return out
