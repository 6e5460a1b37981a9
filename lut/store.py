"""The LUT file: SQLite (stdlib), one row per layer key, every statistic, and its metadata.

One file holds measurements of ONE backend configuration (``meta.backend_config``); opening it
to add rows with another configuration is an error, never a silent mix. Every ``put_*`` call is
committed before it returns, so an interrupted run loses at most the measurement in flight.

Tables:
    meta(key, value)        JSON values: format, schema_version, tool_version, created_at,
                            backend_config, device, settings (warmup, runs, ...), notes
    layers(key, ...)        one row per LayerSpec key: spec fields + statistics in ms
    models(arch_key, ...)   whole-model measurements (the predictor's training data)
                            reference_ms and drift_factor when drift-corrected (whole models,
                            profiler.reference): the raw median is median_ms / drift_factor
    reference(id, ...)      periodic re-timings of a fixed reference layer (drift)
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from lut.measurement import Measurement
from lut.spec import LayerSpec
from lutnas import __version__
from lutnas.errors import LutnasError
from lutnas.sqlite import connect, transaction

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "lutnas-lut"
SCHEMA_VERSION = 2  # 2: reference_ms and drift_factor columns
STAT_COLUMNS = ("median_ms", "mean_ms", "std_ms", "p10_ms", "p90_ms", "n", "warmup")
SPEC_COLUMNS = (
    "op",
    "kernel",
    "expansion",
    "se_ratio",
    "skip",
    "act",
    "cin",
    "cout",
    "stride",
    "input_h",
    "input_w",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layers (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL, kernel INTEGER NOT NULL, expansion INTEGER NOT NULL, se_ratio REAL NOT NULL,
    skip TEXT NOT NULL, act TEXT NOT NULL, cin INTEGER NOT NULL, cout INTEGER NOT NULL,
    stride INTEGER NOT NULL, input_h INTEGER NOT NULL, input_w INTEGER NOT NULL,
    median_ms REAL NOT NULL, mean_ms REAL NOT NULL, std_ms REAL, p10_ms REAL, p90_ms REAL,
    n INTEGER NOT NULL, warmup INTEGER NOT NULL, cv REAL, attempts INTEGER NOT NULL,
    measured_at TEXT NOT NULL, reference_ms REAL, drift_factor REAL);
CREATE TABLE IF NOT EXISTS models (
    arch_key TEXT PRIMARY KEY, arch_json TEXT NOT NULL, space TEXT NOT NULL,
    resolution INTEGER NOT NULL, name TEXT,
    median_ms REAL NOT NULL, mean_ms REAL NOT NULL, std_ms REAL, p10_ms REAL, p90_ms REAL,
    n INTEGER NOT NULL, warmup INTEGER NOT NULL, cv REAL, attempts INTEGER NOT NULL,
    measured_at TEXT NOT NULL, reference_ms REAL, drift_factor REAL);
CREATE TABLE IF NOT EXISTS reference (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, median_ms REAL NOT NULL,
    ratio REAL NOT NULL, rows_done INTEGER NOT NULL, measured_at TEXT NOT NULL);
"""


_DRIFT_COLUMNS = ("reference_ms", "drift_factor")  # added in schema 2
_LAYER_COLUMNS = (
    "key",
    *SPEC_COLUMNS,
    *STAT_COLUMNS,
    "cv",
    "attempts",
    "measured_at",
    *_DRIFT_COLUMNS,
)
_MODEL_COLUMNS = (
    "arch_key", "arch_json", "space", "resolution", "name",
    *STAT_COLUMNS, "cv", "attempts", "measured_at", *_DRIFT_COLUMNS,
)  # fmt: skip


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return (
        f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )


def _add_drift_columns(conn: sqlite3.Connection) -> None:
    """Bring a schema-1 file up to date (the columns are NULL for its old rows)."""
    for table in ("layers", "models"):
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for column in _DRIFT_COLUMNS:
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} REAL")


def _read_sql(query: str, conn: sqlite3.Connection) -> pd.DataFrame:
    import pandas as pd  # loaded on demand: profiling never needs it

    return pd.read_sql_query(query, conn)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _stats(m: Measurement) -> tuple:
    return (m.median_ms, m.mean_ms, m.std_ms, m.p10_ms, m.p90_ms, m.n, m.warmup, m.cv)


def _drift(m: Measurement) -> tuple:
    return (m.reference_ms, m.drift_factor if m.reference_ms is not None else None)


def _with_defaults(settings: dict) -> dict:
    """Settings as compared on resume; files from before drift correction had it off."""
    return {"drift_correction": False, **settings}


def _describe_diff(stored: dict, wanted: dict) -> str:
    keys = sorted(set(stored) | set(wanted))
    return ", ".join(
        f"{k}: file has {stored.get(k)!r}, this run {wanted.get(k)!r}"
        for k in keys
        if stored.get(k) != wanted.get(k)
    )


class LutStore:
    """An open LUT file. Use :meth:`open` to read, :meth:`create_or_resume` to profile into."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # --- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> LutStore:
        """Open an existing LUT.

        Raises:
            LutnasError: no such file, or the file is not a lutnas LUT (corrupt, another format).
        """
        path = Path(path)
        if not path.is_file():
            raise LutnasError(
                f"no LUT file at {path}; create one with: profile-device --out {path}"
            )
        conn = connect(path)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
            meta = {r["key"]: json.loads(r["value"]) for r in rows}
        except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
            conn.close()
            raise LutnasError(
                f"{path} is not a lutnas LUT file ({exc}); it may be corrupt or another format. "
                "Point to a file written by profile-device, or profile again into a new --out."
            ) from None
        if meta.get("format") != FORMAT:
            conn.close()
            raise LutnasError(f"{path} is an SQLite file but not a lutnas LUT (no format marker)")
        if meta.get("schema_version", 0) > SCHEMA_VERSION:
            conn.close()
            raise LutnasError(
                f"{path} was written by a newer lutnas (schema "
                f"{meta['schema_version']}); upgrade lutnas to read it"
            )
        conn.execute("PRAGMA journal_mode=WAL")
        if meta.get("schema_version", 0) < SCHEMA_VERSION:
            try:
                with transaction(conn):
                    _add_drift_columns(conn)
                    conn.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        (json.dumps(SCHEMA_VERSION),),
                    )
            except sqlite3.OperationalError:  # read-only file: readable as it is
                pass
        return cls(path, conn)

    @classmethod
    def create(
        cls, path: str | Path, backend_config: dict, device: dict, settings: dict
    ) -> LutStore:
        """Create a new LUT file. Refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise LutnasError(f"{path} already exists; resume into it or choose another --out")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        store = cls(path, conn)
        with transaction(store._conn):
            for key, value in {
                "format": FORMAT,
                "schema_version": SCHEMA_VERSION,
                "tool_version": __version__,
                "created_at": _now(),
                "backend_config": backend_config,
                "device": device,
                "settings": settings,
            }.items():
                store._set_meta(key, value)
        return store

    @classmethod
    def create_or_resume(
        cls,
        path: str | Path,
        backend_config: dict,
        device: dict,
        settings: dict,
        resume: bool = True,
    ) -> LutStore:
        """Open ``path`` to add measurements made with ``backend_config`` and ``settings``.

        A new file is created; an existing one is resumed when its configuration and settings
        are the same as this run's.

        Raises:
            LutnasError: the file exists and ``resume`` is False, the file is not a LUT, or it
                was measured with another backend configuration or settings.
        """
        path = Path(path)
        if not path.exists():
            return cls.create(path, backend_config, device, settings)
        if not resume:
            raise LutnasError(
                f"{path} already exists and resuming is off; "
                "drop --no-resume to continue it, or choose another --out"
            )
        store = cls.open(path)
        stored_cfg = store.backend_config
        stored_settings, settings = _with_defaults(store.settings), _with_defaults(settings)
        if stored_cfg != backend_config:
            store.close()
            raise LutnasError(
                f"{path} was measured with another backend configuration "
                f"({_describe_diff(stored_cfg, backend_config)}); resuming would mix numbers. "
                "Use the same options, or choose another --out."
            )
        if stored_settings != settings:
            store.close()
            raise LutnasError(
                f"{path} was measured with other settings "
                f"({_describe_diff(stored_settings, settings)}); "
                "rerun with the same --warmup/--runs/--no-drift-correction, "
                "or choose another --out."
            )
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LutStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata --------------------------------------------------------------------------
    def _set_meta(self, key: str, value: object) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
        )

    def set_meta(self, key: str, value: object) -> None:
        self._set_meta(key, value)

    @property
    def meta(self) -> dict:
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    @property
    def backend_config(self) -> dict:
        return self.meta["backend_config"]

    @property
    def settings(self) -> dict:
        return self.meta["settings"]

    @property
    def device(self) -> dict:
        return self.meta["device"]

    # --- layers ----------------------------------------------------------------------------
    def put_layer(self, spec: LayerSpec, m: Measurement, attempts: int = 1) -> None:
        """Store (or replace) the row of ``spec``; committed when this returns."""
        self._conn.execute(
            _insert("layers", _LAYER_COLUMNS),
            (
                spec.key,
                *(getattr(spec, c) for c in SPEC_COLUMNS),
                *_stats(m),
                attempts,
                _now(),
                *_drift(m),
            ),
        )

    def layer_keys(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT key FROM layers")}

    def layer_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM layers").fetchone()[0]

    def latency_ms(self, keys: Iterable[str]) -> dict[str, float]:
        """Median latency of each stored key (missing keys are absent from the result)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, float] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self._conn.execute(
                f"SELECT key, median_ms FROM layers WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.update({r[0]: r[1] for r in rows})
        return out

    def layers_frame(self) -> pd.DataFrame:
        return _read_sql("SELECT * FROM layers ORDER BY key", self._conn)

    # --- whole models ----------------------------------------------------------------------
    def put_model(self, arch, m: Measurement, attempts: int = 1, name: str | None = None) -> None:
        """Store the whole-model measurement of ``arch``: an :class:`spaces.arch.Arch`, or
        anything with its ``key``, ``to_json()``, ``space`` and ``resolution``."""
        self._conn.execute(
            _insert("models", _MODEL_COLUMNS),
            (
                arch.key,
                arch.to_json(),
                arch.space,
                arch.resolution,
                name,
                *_stats(m),
                attempts,
                _now(),
                *_drift(m),
            ),
        )

    def model_keys(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT arch_key FROM models")}

    def models_frame(self) -> pd.DataFrame:
        return _read_sql("SELECT * FROM models ORDER BY arch_key", self._conn)

    # --- reference layer (drift) -------------------------------------------------------------
    def add_reference(self, key: str, median_ms: float, rows_done: int) -> float:
        """Record a re-timing of the reference layer; returns its ratio to the first timing."""
        first = self._conn.execute(
            "SELECT median_ms FROM reference WHERE key = ? ORDER BY id LIMIT 1", (key,)
        ).fetchone()
        ratio = median_ms / first[0] if first else 1.0
        self._conn.execute(
            "INSERT INTO reference (key, median_ms, ratio, rows_done, measured_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, median_ms, ratio, rows_done, _now()),
        )
        return ratio

    def reference_frame(self) -> pd.DataFrame:
        return _read_sql("SELECT * FROM reference ORDER BY id", self._conn)
