"""PostgreSQL + pgvector backends: vectors live in a table; the index file is a JSON pointer to it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from pathlib import Path

import numpy as np

from ..errors import BadInput, ModelUnavailable, NotFound
from .base import VectorIndex

DSN_ENV = "LOOKALIKE_PG_DSN"
#: a row must fit in one 8 kB page to be stored inline (4 bytes per dimension)
PLAIN_MAX_DIM = 1900
INSTALL_HINT = "pip install 'psycopg[binary]' pgvector"
EXTENSION_HINT = (
    "install pgvector on the server (Debian/Ubuntu: apt install postgresql-NN-pgvector) and run, as a superuser "
    "in that database: CREATE EXTENSION vector;"
)


def _modules():
    try:
        import pgvector.psycopg
        import psycopg
    except ImportError:
        raise ModelUnavailable(f"the pgvector backends need psycopg and pgvector. Run: {INSTALL_HINT}") from None
    return psycopg, pgvector.psycopg


def redact(dsn: str) -> str | None:
    """The DSN without its password; None when it cannot be shown safely."""
    psycopg, _ = _modules()
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return None
    parts.pop("password", None)
    return psycopg.conninfo.make_conninfo(**parts)


def table_name(path: Path) -> str:
    """A table name for an index file: the model's file stem plus a hash of the folder, so workspaces never share."""
    path = Path(path).resolve()
    stem = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_") or "index"
    digest = hashlib.sha1(str(path.parent).encode()).hexdigest()[:8]
    return f"lookalike_{stem[:40]}_{digest}"


def _quote(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise BadInput(f"table name {name!r} must be letters, digits and _ (at most 63), starting with a letter")
    return f'"{name}"'


def connect(dsn: str):
    """An autocommit connection with the vector extension checked and the vector type registered."""
    psycopg, pgv = _modules()
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as e:
        where = redact(dsn) or "the server"
        raise ModelUnavailable(
            f"cannot connect to PostgreSQL at {where!r}: {str(e).strip()}. Check {DSN_ENV}"
        ) from None
    try:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname='vector'").fetchone() is None:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as e:
        conn.close()
        raise ModelUnavailable(
            f"PostgreSQL has no usable pgvector extension ({str(e).strip()}): {EXTENSION_HINT}"
        ) from None
    pgv.register_vector(conn)
    return conn


class PgVectorIndex(VectorIndex):
    """Exact inner-product search in PostgreSQL with pgvector's <#> operator (a sequential scan, no ANN index)."""

    requirements = ["psycopg[binary]", "pgvector"]
    hnsw = False

    def __init__(self, dim: int, dsn: str | None = None, table: str | None = None, create: bool = True):
        super().__init__(dim)
        dsn = dsn or os.environ.get(DSN_ENV)
        if not dsn:
            raise ModelUnavailable(
                f"the pgvector backend needs a database. Set {DSN_ENV}, for example: "
                f"export {DSN_ENV}=postgresql://user@localhost:5432/lookalike"
            )
        self.dsn = dsn
        # without a table name the build goes to a private table that save() swaps in under the final name
        self.staging = table is None
        self.table = table or f"lookalike_build_{uuid.uuid4().hex[:12]}"
        self._lock = threading.RLock()
        self._conn = connect(dsn)
        if create:
            self._create_table()
        elif self._conn.execute("SELECT to_regclass(%s)", (_quote(self.table),)).fetchone()[0] is None:
            raise NotFound(f"table {self.table!r} is gone from the database. Rebuild the index: "
                           f"lookalike index --backend {'pgvector-hnsw' if self.hnsw else 'pgvector'}")

    @classmethod
    def ensure_requirements(cls) -> None:
        """Fail early when psycopg or pgvector is missing."""
        _modules()

    def _sql(self, query: str, args=None):
        return self._conn.execute(query.replace("{t}", _quote(self.table)), args)

    def _create_table(self) -> None:
        self._sql(f"CREATE TABLE IF NOT EXISTS {{t}} (id bigint PRIMARY KEY, vec vector({self.dim}) NOT NULL)")
        row = self._conn.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'vec'",
            (_quote(self.table),),
        ).fetchone()
        if row and row[0] != self.dim:
            raise BadInput(f"table {self.table!r} holds {row[0]}-d vectors, not {self.dim}-d; use another table")
        if self.dim <= PLAIN_MAX_DIM:
            # vectors past ~2 kB are TOASTed by default; kept inline, an exact scan ran 1.6-2.5x faster (20k x 1280)
            self._sql("ALTER TABLE {t} ALTER COLUMN vec SET STORAGE PLAIN")
        if self.hnsw:
            self._tune_hnsw()

    def _tune_hnsw(self) -> None:
        psycopg, _ = _modules()
        self._conn.execute("SET hnsw.ef_search = 128")
        try:  # pgvector >= 0.8: keep scanning the graph until enough rows pass the WHERE filter
            self._conn.execute("SET hnsw.iterative_scan = strict_order")
        except psycopg.Error:
            pass

    def __len__(self) -> int:
        return int(self._sql("SELECT count(*) FROM {t}").fetchone()[0])

    def _add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        psycopg, _ = _modules()
        try:
            sql = f"COPY {_quote(self.table)} (id, vec) FROM STDIN WITH (FORMAT BINARY)"
            with self._lock, self._conn.transaction(), self._conn.cursor() as cur, cur.copy(sql) as copy:
                copy.set_types(["int8", "vector"])
                for i, v in zip(ids.tolist(), vecs):
                    copy.write_row((i, v))
        except psycopg.errors.UniqueViolation:
            raise BadInput(
                f"some of these {len(ids)} ids are already in table {self.table!r}; remove them first"
            ) from None

    def _remove(self, ids: np.ndarray) -> int:
        with self._lock:
            return int(self._sql("DELETE FROM {t} WHERE id = ANY(%s)", (ids.tolist(),)).rowcount)

    def _search(self, queries, k, allowed):
        n = len(queries)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        ids = np.full((n, k), -1, dtype=np.int64)
        where, args = "", {}
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return scores, ids
            where, args = "WHERE id = ANY(%(allowed)s)", {"allowed": allowed.tolist()}
        # <#> is the negative inner product, so ascending order is best-first; one named parameter, so the
        # distance is computed once per row and the ORDER BY still matches an HNSW index
        query = f"SELECT id, vec <#> %(q)s AS d FROM {{t}} {where} ORDER BY vec <#> %(q)s LIMIT {k}"
        with self._lock, self._conn.transaction():  # one snapshot for the whole batch
            for qi, q in enumerate(queries):
                rows = self._sql(query, {**args, "q": q}).fetchall()
                for j, (i, d) in enumerate(rows):
                    ids[qi, j], scores[qi, j] = i, -d
        return scores, ids

    def _finish_build(self) -> None:
        """Hook run before the table goes live: HNSW builds its graph here, after the bulk load."""
        if not self.hnsw:
            return
        found = self._conn.execute(
            "SELECT 1 FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%USING hnsw%%'", (self.table,)
        ).fetchone()
        if found is None:
            self._sql("CREATE INDEX ON {t} USING hnsw (vec vector_ip_ops)")

    def save(self, path: Path) -> None:
        """Swap the built table in under its final name (one transaction), then write the pointer file."""
        path = Path(path)
        self._finish_build()
        if self.staging:
            final = table_name(path)
            with self._lock, self._conn.transaction():
                self._conn.execute(f"DROP TABLE IF EXISTS {_quote(final)}")
                self._sql(f"ALTER TABLE {{t}} RENAME TO {_quote(final)}")
            self.table, self.staging = final, False
        pointer = {"dsn": redact(self.dsn), "table": self.table, "dim": self.dim,
                   "hnsw": self.hnsw}
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(pointer, indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> PgVectorIndex:
        """Reconnect to the table a pointer file names (a password comes from LOOKALIKE_PG_DSN, never the file)."""
        pointer = json.loads(Path(path).read_text())
        env, stored = os.environ.get(DSN_ENV), pointer.get("dsn")
        dsn = env if env and (stored is None or redact(env) == stored) else stored
        if not dsn:
            raise ModelUnavailable(f"index {path} lives in PostgreSQL; set {DSN_ENV} to the database's DSN")
        index = cls(pointer["dim"], dsn=dsn, table=pointer["table"], create=False)
        if index.hnsw:
            index._tune_hnsw()
        return index

    def drop(self) -> None:
        """Delete the table and close the connection."""
        self._sql("DROP TABLE IF EXISTS {t}")
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class PgVectorHNSWIndex(PgVectorIndex):
    """Approximate search with a pgvector HNSW index (vector_ip_ops), built after the bulk load."""

    hnsw = True
