"""SqliteCatalog: one SQLite file holds products, images, embeddings, runs and problems."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import NotFound, WorkspaceError

SCHEMA_VERSION = 1
#: Vector ids pack (image id, view index) into one int64 so indexes need no mapping table.
VIEWS_PER_IMAGE = 16

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products(
    id TEXT PRIMARY KEY,
    metadata TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    seen_run INTEGER
);
CREATE TABLE IF NOT EXISTS images(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    local_path TEXT,
    sha256 TEXT,
    bytes INTEGER,
    width INTEGER,
    height INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    seen_run INTEGER,
    UNIQUE(product_id, source)
);
CREATE INDEX IF NOT EXISTS images_product ON images(product_id);
CREATE TABLE IF NOT EXISTS embeddings(
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    view INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    model_version TEXT NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY(image_id, model, view)
);
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    stats TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS problems(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    item TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS models(
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass
class ImageRow:
    """One catalog image as stored."""

    id: int
    product_id: str
    source: str
    local_path: str | None
    sha256: str | None
    status: str
    error: str | None


def _image_row(r: sqlite3.Row) -> ImageRow:
    return ImageRow(r["id"], r["product_id"], r["source"], r["local_path"], r["sha256"], r["status"], r["error"])


def vector_id(image_id: int, view: int) -> int:
    """The int64 id an index uses for one view of one image."""
    return image_id * VIEWS_PER_IMAGE + view


def image_of(vector_ids: np.ndarray) -> np.ndarray:
    """Image ids from vector ids."""
    return np.asarray(vector_ids, dtype=np.int64) // VIEWS_PER_IMAGE


class SqliteCatalog:
    """The workspace database. One writer; each thread reads on its own connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        with self._write_lock:
            self._init_schema()

    # -- connections -------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA foreign_keys=ON")
            c.row_factory = sqlite3.Row
            self._local.conn = c
        return c

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed as a whole or not at all."""
        with self._write_lock:
            c = self.conn()
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def _init_schema(self) -> None:
        c = self.conn()
        try:
            found = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            if "no such table" not in str(e):
                raise WorkspaceError(f"{self.path} is not a lookalike workspace database ({e})") from None
            found = None
        if found is not None and int(found["value"]) != SCHEMA_VERSION:
            v = int(found["value"])
            raise WorkspaceError(
                f"workspace {self.path.parent} has schema version {v}, this lookalike reads version "
                f"{SCHEMA_VERSION}. Install the lookalike release that wrote it, or re-ingest into a new workspace"
            )
        c.executescript(SCHEMA)
        c.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    # -- runs and problems -------------------------------------------------
    def start_run(self, kind: str, params: dict) -> int:
        """Record the start of an ingest, embed or training run."""
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs(kind, started_at, status, params) VALUES(?,?,?,?)",
                (kind, time.time(), "running", json.dumps(params, default=str)),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, stats: dict) -> None:
        """Record the end of a run and its counts."""
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished_at=?, status=?, stats=? WHERE id=?",
                (time.time(), status, json.dumps(stats, default=str), run_id),
            )

    def add_problems(self, run_id: int, problems: Iterable[tuple[str, str]]) -> None:
        """Record bad items (item, reason) of a run."""
        rows = [(run_id, item, reason) for item, reason in problems]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO problems(run_id, item, reason) VALUES(?,?,?)", rows)

    def problems(self, run_id: int | None = None) -> list[dict]:
        """Problems of one run, or of the latest run that had any."""
        c = self.conn()
        if run_id is None:
            row = c.execute("SELECT MAX(run_id) AS r FROM problems").fetchone()
            run_id = row["r"] if row else None
            if run_id is None:
                return []
        rows = c.execute("SELECT item, reason FROM problems WHERE run_id=? ORDER BY id", (run_id,))
        return [dict(r) for r in rows]

    def runs(self, limit: int = 20) -> list[dict]:
        """The latest runs, newest first."""
        rows = self.conn().execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [{**dict(r), "params": json.loads(r["params"]), "stats": json.loads(r["stats"])} for r in rows]

    # -- products ----------------------------------------------------------
    def upsert_product(
        self, c: sqlite3.Connection, pid: str, metadata: dict, run_id: int | None, origin: str = ""
    ) -> None:
        """Insert or update one product inside a caller's transaction."""
        c.execute(
            "INSERT INTO products(id, metadata, updated_at, origin, seen_run) VALUES(?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET metadata=excluded.metadata, updated_at=excluded.updated_at, "
            "origin=excluded.origin, seen_run=excluded.seen_run",
            (pid, json.dumps(metadata, ensure_ascii=False), time.time(), origin, run_id),
        )

    def upsert_image(
        self,
        c: sqlite3.Connection,
        pid: str,
        source: str,
        info: dict,
        run_id: int | None,
    ) -> tuple[int, bool]:
        """Insert or update one image; returns (image id, whether its content changed)."""
        row = c.execute(
            "SELECT id, sha256 FROM images WHERE product_id=? AND source=?", (pid, source)
        ).fetchone()
        fields = (
            info.get("local_path"), info.get("sha256"), info.get("bytes"), info.get("width"),
            info.get("height"), info["status"], info.get("error"), run_id,
        )
        if row is None:
            cur = c.execute(
                "INSERT INTO images(product_id, source, local_path, sha256, bytes, width, height, status, "
                "error, seen_run) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (pid, source, *fields),
            )
            return int(cur.lastrowid), True
        c.execute(
            "UPDATE images SET local_path=?, sha256=?, bytes=?, width=?, height=?, status=?, error=?, "
            "seen_run=? WHERE id=?",
            (*fields, row["id"]),
        )
        return int(row["id"]), row["sha256"] != info.get("sha256")

    def image_hashes(self) -> dict[tuple[str, str], tuple[str | None, str]]:
        """(product id, source) -> (sha256, status) for every image, to skip unchanged files."""
        rows = self.conn().execute("SELECT product_id, source, sha256, status FROM images")
        return {(r["product_id"], r["source"]): (r["sha256"], r["status"]) for r in rows}

    def mark_seen(self, c: sqlite3.Connection, run_id: int, keys: list[tuple[str, str]]) -> None:
        """Mark unchanged images as present in this run, inside a caller's transaction."""
        c.executemany(
            "UPDATE images SET seen_run=? WHERE product_id=? AND source=?",
            [(run_id, p, s) for p, s in keys],
        )

    def remove_unseen(self, run_id: int, origin: str) -> tuple[int, int]:
        """After a full import of one catalog: delete its products and images that it no longer lists."""
        with self.transaction() as c:
            n_prod = c.execute(
                "DELETE FROM products WHERE origin=? AND (seen_run IS NULL OR seen_run<>?)", (origin, run_id)
            ).rowcount
            n_img = c.execute(
                "DELETE FROM images WHERE (seen_run IS NULL OR seen_run<>?) AND product_id IN "
                "(SELECT id FROM products WHERE origin=?)",
                (run_id, origin),
            ).rowcount
        return n_prod, n_img

    def delete_product(self, pid: str) -> None:
        """Delete a product with its images and embeddings."""
        with self.transaction() as c:
            if c.execute("DELETE FROM products WHERE id=?", (pid,)).rowcount == 0:
                raise NotFound(f"product {pid!r} not found")

    def product(self, pid: str) -> dict:
        """One product with its metadata and image ids."""
        c = self.conn()
        row = c.execute("SELECT id, metadata FROM products WHERE id=?", (pid,)).fetchone()
        if row is None:
            raise NotFound(f"product {pid!r} not found. List products with: lookalike products")
        imgs = c.execute(
            "SELECT id FROM images WHERE product_id=? AND status='ok' ORDER BY id", (pid,)
        ).fetchall()
        return {"id": row["id"], "metadata": json.loads(row["metadata"]), "image_ids": [r["id"] for r in imgs]}

    def products(self, ids: Iterable[str] | None = None) -> dict[str, dict]:
        """Metadata of many products (all when ids is None)."""
        c = self.conn()
        if ids is None:
            rows = c.execute("SELECT id, metadata FROM products ORDER BY id").fetchall()
        else:
            ids = list(ids)
            rows = []
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = f"SELECT id, metadata FROM products WHERE id IN ({','.join('?' * len(chunk))})"
                rows.extend(c.execute(q, chunk).fetchall())
        return {r["id"]: json.loads(r["metadata"]) for r in rows}

    def first_images(self, ids: Iterable[str]) -> dict[str, int]:
        """The first good image id of each product, for thumbnails."""
        out: dict[str, int] = {}
        rows = self.conn().execute(
            "SELECT product_id, MIN(id) AS id FROM images WHERE status='ok' GROUP BY product_id"
        )
        wanted = set(ids)
        for r in rows:
            if r["product_id"] in wanted:
                out[r["product_id"]] = r["id"]
        return out

    def count(self, table: str) -> int:
        """Row count of a table."""
        if table not in {"products", "images", "embeddings", "runs", "problems"}:
            raise ValueError(table)
        return int(self.conn().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def image(self, image_id: int) -> ImageRow:
        """One image row by id."""
        r = self.conn().execute("SELECT * FROM images WHERE id=?", (int(image_id),)).fetchone()
        if r is None:
            raise NotFound(f"image {image_id} not found")
        return _image_row(r)

    def images(self, status: str | None = "ok") -> list[ImageRow]:
        """All images, optionally of one status."""
        q = "SELECT * FROM images" + (" WHERE status=?" if status else "") + " ORDER BY id"
        rows = self.conn().execute(q, (status,) if status else ())
        return [_image_row(r) for r in rows]

    def image_products(self, image_ids: np.ndarray | None = None) -> dict[int, str]:
        """image id -> product id for every image (the argument is accepted for compatibility and ignored)."""
        rows = self.conn().execute("SELECT id, product_id FROM images")
        return {int(r["id"]): r["product_id"] for r in rows}

    # -- embeddings --------------------------------------------------------
    def stale_images(self, model: str, model_version: str, views: list[int]) -> list[ImageRow]:
        """Good images whose embeddings for this model are missing, outdated or for other content."""
        marks = ",".join("?" * len(views))
        rows = self.conn().execute(
            "SELECT i.* FROM images i WHERE i.status='ok' AND "
            "(SELECT COUNT(*) FROM embeddings e WHERE e.image_id=i.id AND e.model=? AND e.sha256=i.sha256 "
            f" AND e.model_version=? AND e.view IN ({marks})) < ? ORDER BY i.id",
            (model, model_version, *views, len(views)),
        )
        return [_image_row(r) for r in rows]

    def put_embeddings(self, model: str, model_version: str, rows: list[tuple[int, int, str, np.ndarray]]) -> None:
        """Store (image id, view, sha256, vec) rows in one transaction."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO embeddings(image_id, model, view, sha256, model_version, vec) "
                "VALUES(?,?,?,?,?,?)",
                [(i, model, v, h, model_version, np.asarray(x, dtype=np.float32).tobytes()) for i, v, h, x in rows],
            )

    def mark_image_error(self, image_id: int, reason: str) -> None:
        """An image that failed at embed time is marked so it is not retried until it changes."""
        with self.transaction() as c:
            c.execute("UPDATE images SET status='error', error=? WHERE id=?", (reason, image_id))

    def embeddings(self, model: str, views: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(vector ids, vecs) of every current embedding of a model."""
        q = (
            "SELECT e.image_id, e.view, e.vec FROM embeddings e JOIN images i ON i.id=e.image_id "
            "WHERE e.model=? AND i.status='ok' AND e.sha256=i.sha256"
        )
        args: tuple = (model,)
        if views is not None:
            q += f" AND e.view IN ({','.join('?' * len(views))})"
            args = (model, *views)
        rows = self.conn().execute(q + " ORDER BY e.image_id, e.view", args).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.array([vector_id(r[0], r[1]) for r in rows], dtype=np.int64)
        vecs = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        return ids, vecs

    def embedded_models(self) -> list[str]:
        """Models that have at least one embedding here."""
        return [r[0] for r in self.conn().execute("SELECT DISTINCT model FROM embeddings ORDER BY model")]

    def delete_embeddings(self, model: str) -> None:
        """Drop every embedding of a model."""
        with self.transaction() as c:
            c.execute("DELETE FROM embeddings WHERE model=?", (model,))

    # -- workspace models --------------------------------------------------
    def put_model(self, name: str, spec: dict) -> None:
        """Register a trained model in this workspace."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO models(name, spec, created_at) VALUES(?,?,?)",
                (name, json.dumps(spec, default=str), time.time()),
            )

    def workspace_models(self) -> dict[str, dict]:
        """Trained models registered in this workspace."""
        rows = self.conn().execute("SELECT name, spec FROM models ORDER BY name")
        return {r["name"]: json.loads(r["spec"]) for r in rows}

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A workspace setting."""
        r = self.conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return r["value"] if r else default

    def set_meta(self, key: str, value: str) -> None:
        """Store a workspace setting."""
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)", (key, value))
