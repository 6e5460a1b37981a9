"""The record of one search: SQLite (stdlib), written as the search runs, read to resume.

Durability rules (the same as the LUT store's: autocommit, nothing buffered in memory):

- every evaluated candidate is committed to ``evaluations`` as soon as its evaluation finishes;
- when a batch is complete, its ``history`` rows (one per told candidate, in ask order), its
  ``batches`` row and the strategy's state after telling it are written in ONE transaction,
  so the state on disk always matches the history on disk;
- the tokens of the batch in flight are kept in ``meta.pending``.

After a kill, :meth:`SearchRecord.resume_point` gives the last complete batch's strategy state;
the runner restores it, asks again (strategies are deterministic, so it gets the same batch)
and takes every accuracy already in ``evaluations`` instead of evaluating it again.

A record belongs to one configuration (:func:`config_differences`): strategy and its options,
seed, batch size, evaluator identity, predictor identity, target T and reward. Opening it with
another is an error that names the differences. A lock file keeps two searches off one record.

Tables:
    meta(key, value)          JSON: format, schema_version, tool_version, created_at, config,
                              pending ({batch, tokens} of the batch in flight, or absent)
    evaluations(arch_key, ...) one row per distinct evaluated arch: accuracy (NULL on failure),
                              error, predicted latency_ms, seconds, worker, batch, finished_at
    history(seq, ...)         one row per told candidate: batch, position, tokens, arch_key,
                              accuracy, latency_ms, reward, reused (accuracy from an earlier row)
    batches(batch, ...)       size, fresh evaluations, seconds (total, evaluation, prediction)
    strategy_state(id=1, ...) the latest complete batch's strategy state_dict (JSON)
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from lutnas import __version__
from lutnas.cli_util import quote
from lutnas.errors import LutnasError
from lutnas.filelock import WriterLock
from lutnas.sqlite import connect, transaction
from search.record_file import create_record, has_record, make_directory
from search.rows import BatchStats, Evaluation, HistoryRow, ResumePoint  # noqa: F401

FORMAT = "lutnas-search"
SCHEMA_VERSION = 1
RECORD_NAME = "search.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    arch_key TEXT PRIMARY KEY, arch_json TEXT NOT NULL, accuracy REAL, error TEXT,
    latency_ms REAL NOT NULL, seconds REAL NOT NULL, worker TEXT NOT NULL,
    batch INTEGER NOT NULL, finished_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY, batch INTEGER NOT NULL, position INTEGER NOT NULL,
    tokens TEXT NOT NULL, arch_key TEXT NOT NULL, arch_json TEXT NOT NULL, accuracy REAL,
    latency_ms REAL NOT NULL, reward REAL NOT NULL, reused INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch INTEGER PRIMARY KEY, size INTEGER NOT NULL, fresh INTEGER NOT NULL,
    seconds REAL NOT NULL, eval_seconds REAL NOT NULL, predict_seconds REAL NOT NULL,
    finished_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS strategy_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), batches INTEGER NOT NULL, tells INTEGER NOT NULL,
    state TEXT NOT NULL);
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _canonical(value: object) -> object:
    """``value`` after a JSON round trip (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, sort_keys=True))


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict) and value:
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _first_meta(config: dict) -> dict[str, str]:
    """The ``meta`` rows of a new record (values as JSON text)."""
    values = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "created_at": _now(),
        "config": _canonical(config),
    }
    return {key: json.dumps(value, sort_keys=True) for key, value in values.items()}


def config_differences(stored: dict, wanted: dict) -> list[str]:
    """``key: record has X, this run Y`` for every (dotted) key whose values differ."""
    a, b = _flatten(_canonical(stored)), _flatten(_canonical(wanted))
    return [
        f"{k}: record has {a.get(k)!r}, this run {b.get(k)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


class SearchRecord:
    """An open search record. :meth:`open` to run a search into, :meth:`read` to look at one."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: WriterLock | None) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock

    # --- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, config: dict) -> SearchRecord:
        """Create the record at ``path``, or resume it when it holds the same configuration.

        A new record is made whole under a temporary name and renamed into place, so a record
        at ``path`` always holds its configuration (see :mod:`search.record_file`).

        Raises:
            LutnasError: the file holds another configuration (the differences are listed),
                is not a search record, or another search holds its lock.
        """
        path = Path(path)
        make_directory(path.parent)
        lock = WriterLock(
            path, "another search is running on this record: wait for it, or use another --out"
        ).acquire()
        conn: sqlite3.Connection | None = None
        try:
            if not has_record(path):
                create_record(path, _SCHEMA, _first_meta(config))
            conn = connect(path)
            record = cls(path, conn, lock)
            record._check_format()
            diffs = config_differences(record.config, config)
            if diffs:
                raise LutnasError(
                    f"{path} records a search with another configuration ("
                    + "; ".join(diffs)
                    + "). Repeat the original options to resume it, "
                    "or give another --out for a new search."
                )
            return record
        except BaseException:
            if conn is not None:
                conn.close()
            lock.release()
            raise

    @classmethod
    def read(cls, path: str | Path) -> SearchRecord:
        """Open an existing record to read it (no lock; it may be running).

        Raises:
            LutnasError: no such file, or not a search record.
        """
        path = Path(path)
        if not path.is_file():
            raise LutnasError(
                f"no search record at {path}; run lutnas search --out {quote(path.parent)} first"
            )
        record = cls(path, connect(path), None)
        record._check_format()
        return record

    def _check_format(self) -> None:
        try:
            meta = self.meta
        except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
            raise LutnasError(
                f"{self.path} is not a lutnas search record ({exc}); give another --out"
            ) from None
        if meta.get("format") != FORMAT or "config" not in meta:
            raise LutnasError(
                f"{self.path} is not a lutnas search record (format "
                f"{meta.get('format')!r}); give another --out"
            )
        if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
            raise LutnasError(
                f"{self.path} was written by a newer lutnas (schema "
                f"{meta['schema_version']}); upgrade lutnas to resume it"
            )

    def close(self) -> None:
        self._conn.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> SearchRecord:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- meta -----------------------------------------------------------------------------------
    @property
    def meta(self) -> dict:
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    @property
    def config(self) -> dict:
        return self.meta["config"]

    def _set_meta(self, key: str, value: object) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (key, json.dumps(value, sort_keys=True)),
        )

    def set_pending(self, batch: int, tokens: Sequence[Sequence[int]]) -> None:
        """Remember the tokens of the batch about to be evaluated (checked on resume)."""
        self._set_meta("pending", {"batch": batch, "tokens": [list(t) for t in tokens]})

    # --- evaluations ----------------------------------------------------------------------------
    def put_evaluation(self, e: Evaluation) -> None:
        """Commit one finished evaluation (a failed one too: it is retried on resume)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO evaluations (arch_key, arch_json, accuracy, error, "
            "latency_ms, seconds, worker, batch, finished_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                e.arch_key,
                e.arch_json,
                e.accuracy,
                e.error,
                float(e.latency_ms),
                e.seconds,
                e.worker,
                e.batch,
                _now(),
            ),
        )

    def _evaluations(self, where: str = "", args: Iterable = ()) -> list[Evaluation]:
        rows = self._conn.execute(
            "SELECT arch_key, arch_json, accuracy, error, latency_ms, seconds, worker, batch "
            f"FROM evaluations {where}",
            tuple(args),
        ).fetchall()
        return [Evaluation(**dict(r)) for r in rows]

    def successful_evaluations(self, keys: Iterable[str]) -> dict[str, Evaluation]:
        """The successful evaluations among ``keys`` (failed ones are not reused)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, Evaluation] = {}
        for start in range(0, len(wanted), 500):  # SQLite's parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for e in self._evaluations(
                f"WHERE accuracy IS NOT NULL AND arch_key IN ({marks})", chunk
            ):
                out[e.arch_key] = e
        return out

    def evaluations(self) -> list[Evaluation]:
        """Every evaluation, failed ones included, in evaluation order."""
        return self._evaluations("ORDER BY rowid")

    # --- batches --------------------------------------------------------------------------------
    def commit_batch(
        self, batch: int, rows: Sequence[HistoryRow], strategy_state: dict, stats: BatchStats
    ) -> None:
        """Write a complete batch's history rows, its stats and the strategy state after it,
        atomically, and clear the pending batch."""
        state_text = json.dumps(strategy_state)
        with transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO history (seq, batch, position, tokens, arch_key, arch_json, "
                "accuracy, latency_ms, reward, reused) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        r.seq,
                        r.batch,
                        r.position,
                        json.dumps(list(r.tokens)),
                        r.arch_key,
                        r.arch_json,
                        r.accuracy,
                        float(r.latency_ms),
                        float(r.reward),
                        int(r.reused),
                    )
                    for r in rows
                ],
            )
            self._conn.execute(
                "INSERT INTO batches (batch, size, fresh, seconds, eval_seconds, "
                "predict_seconds, finished_at) VALUES (?,?,?,?,?,?,?)",
                (
                    batch,
                    stats.size,
                    stats.fresh,
                    stats.seconds,
                    stats.eval_seconds,
                    stats.predict_seconds,
                    _now(),
                ),
            )
            tells = self.tell_count()  # the rows above count: same connection and transaction
            self._conn.execute(
                "INSERT OR REPLACE INTO strategy_state (id, batches, tells, state) "
                "VALUES (1, ?, ?, ?)",
                (batch + 1, tells, state_text),
            )
            self._conn.execute("DELETE FROM meta WHERE key = 'pending'")

    def resume_point(self) -> ResumePoint:
        row = self._conn.execute(
            "SELECT batches, tells, state FROM strategy_state WHERE id = 1"
        ).fetchone()
        pending = self.meta.get("pending")
        tokens = pending["tokens"] if pending else None
        if row is None:
            return ResumePoint(0, 0, None, tokens)
        return ResumePoint(int(row["batches"]), int(row["tells"]), json.loads(row["state"]), tokens)

    def tell_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM history").fetchone()[0])

    def history(self) -> list[HistoryRow]:
        rows = self._conn.execute(
            "SELECT seq, batch, position, tokens, arch_key, arch_json, accuracy, latency_ms, "
            "reward, reused FROM history ORDER BY seq"
        ).fetchall()
        return [
            HistoryRow(
                **{**dict(r), "tokens": tuple(json.loads(r["tokens"])), "reused": bool(r["reused"])}
            )
            for r in rows
        ]

    def batch_stats(self) -> list[BatchStats]:
        rows = self._conn.execute(
            "SELECT size, fresh, seconds, eval_seconds, predict_seconds FROM batches ORDER BY batch"
        ).fetchall()
        return [BatchStats(**dict(r)) for r in rows]
