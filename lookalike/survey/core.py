"""A/B preference survey: the same queries, two models' results side by side, people vote which is better."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import images
from ..errors import BadInput, NotFound
from ..search import Searcher
from ..workspace import Workspace
from .stats import sign_test, wilson_interval

SCHEMA = """
CREATE TABLE IF NOT EXISTS surveys(id TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS survey_votes(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id TEXT NOT NULL REFERENCES surveys(id) ON DELETE CASCADE,
    item INTEGER NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie')),
    voter TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE(survey_id, item, voter)
);
"""
CHOICES = ("left", "right", "tie")


@dataclass
class SurveyResults:
    """Vote counts and what they say."""

    survey: str
    model_a: str
    model_b: str
    a: int
    b: int
    tie: int
    identical_items: int
    voters: int

    def to_dict(self) -> dict:
        """Counts plus A's win rate (ties excluded) with a Wilson 95% interval and a two-sided sign test."""
        lo, hi = wilson_interval(self.a, self.a + self.b)
        return {**self.__dict__, "a_win_rate": self.a / (self.a + self.b) if self.a + self.b else None,
                "a_win_rate_ci95": [lo, hi], "sign_test_p": sign_test(self.a, self.b)}


def _ensure(ws: Workspace) -> None:
    ws.catalog.conn().executescript(SCHEMA)


def _queries(ws: Workspace, source: str | None, n: int, rng: random.Random) -> list[dict]:
    """Query photos from a folder, or catalog products (similar-products mode) when no folder is given."""
    if source:
        folder = Path(source)
        if not folder.is_dir():
            raise BadInput(f"query folder {folder} not found; give a folder of shoppers' photos or omit --queries")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
        if not paths:
            raise BadInput(f"no .jpg/.png/.webp photos in {folder}")
        return [{"type": "photo", "path": str(p.resolve())} for p in rng.sample(paths, min(n, len(paths)))]
    pids = sorted(ws.catalog.products())
    if not pids:
        raise BadInput("the workspace has no products. Run: lookalike ingest CATALOG")
    return [{"type": "product", "id": p} for p in rng.sample(pids, min(n, len(pids)))]


def create_survey(ws: Workspace, model_a: str, model_b: str, queries: str | None = None, n: int = 20,
                  k: int = 6, seed: int = 0, name: str | None = None) -> dict:
    """Run both models on the same queries and store the side-by-side lists, left/right shuffled per item."""
    if model_a == model_b:
        raise BadInput("an A/B survey needs two different models, e.g. --models efficientnet_lite0,mobilenet_v2")
    _ensure(ws)
    rng = random.Random(seed)
    searchers = {"a": Searcher(ws, model_a), "b": Searcher(ws, model_b)}
    items = []
    for q in _queries(ws, queries, n, rng):
        lists = {}
        for side, s in searchers.items():
            hits = s.similar(q["id"], k) if q["type"] == "product" else s.search_images([images.load(q["path"])], k)
            lists[side] = [h.product_id for h in hits]
        items.append({"query": q, "a": lists["a"], "b": lists["b"], "left": rng.choice("ab")})
    spec = {"id": name or uuid.uuid4().hex[:8], "model_a": model_a, "model_b": model_b, "k": k, "seed": seed,
            "items": items}
    with ws.catalog.transaction() as c:
        if c.execute("SELECT 1 FROM surveys WHERE id=?", (spec["id"],)).fetchone():
            raise BadInput(f"survey {spec['id']!r} exists already; choose another --name")
        c.execute("INSERT INTO surveys(id, spec, created_at) VALUES(?,?,?)", (spec["id"], json.dumps(spec), time.time()))
    return spec


def get_survey(ws: Workspace, survey_id: str) -> dict:
    """A stored survey spec."""
    _ensure(ws)
    row = ws.catalog.conn().execute("SELECT spec FROM surveys WHERE id=?", (survey_id,)).fetchone()
    if row is None:
        raise NotFound(f"survey {survey_id!r} not found. Create one with: lookalike survey create --models A,B")
    return json.loads(row[0])


def list_surveys(ws: Workspace) -> list[dict]:
    """Every survey with its models and vote count."""
    _ensure(ws)
    rows = ws.catalog.conn().execute(
        "SELECT s.id, s.spec, (SELECT COUNT(*) FROM survey_votes v WHERE v.survey_id=s.id) FROM surveys s ORDER BY s.created_at"
    )
    return [{"id": r[0], "model_a": json.loads(r[1])["model_a"], "model_b": json.loads(r[1])["model_b"],
             "items": len(json.loads(r[1])["items"]), "votes": r[2]} for r in rows]


def record_vote(ws: Workspace, survey_id: str, item: int, choice: str, voter: str) -> str:
    """Store one person's choice for one item (left/right/tie, translated to a/b/tie); re-voting replaces it."""
    spec = get_survey(ws, survey_id)
    if not 0 <= item < len(spec["items"]):
        raise BadInput(f"item {item} is outside survey {survey_id!r} (0..{len(spec['items']) - 1})")
    if choice not in CHOICES:
        raise BadInput(f"choice {choice!r} is not one of: {', '.join(CHOICES)}")
    if not voter or len(voter) > 64:
        raise BadInput("voter must be a non-empty id of at most 64 characters")
    left = spec["items"][item]["left"]
    model = "tie" if choice == "tie" else (left if choice == "left" else ("b" if left == "a" else "a"))
    with ws.catalog.transaction() as c:
        c.execute(
            "INSERT INTO survey_votes(survey_id, item, choice, voter, created_at) VALUES(?,?,?,?,?) "
            "ON CONFLICT(survey_id, item, voter) DO UPDATE SET choice=excluded.choice, created_at=excluded.created_at",
            (survey_id, item, model, voter, time.time()),
        )
    return model


def survey_results(ws: Workspace, survey_id: str) -> SurveyResults:
    """Counts of votes for A, B and ties."""
    spec = get_survey(ws, survey_id)
    c = ws.catalog.conn()
    counts = dict(c.execute("SELECT choice, COUNT(*) FROM survey_votes WHERE survey_id=? GROUP BY choice", (survey_id,)).fetchall())
    voters = c.execute("SELECT COUNT(DISTINCT voter) FROM survey_votes WHERE survey_id=?", (survey_id,)).fetchone()[0]
    identical = sum(1 for it in spec["items"] if it["a"] == it["b"])
    return SurveyResults(survey_id, spec["model_a"], spec["model_b"], counts.get("a", 0), counts.get("b", 0),
                         counts.get("tie", 0), identical, int(voters))
