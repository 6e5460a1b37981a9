"""The LUT file: SQLite (stdlib), one row per layer key, every statistic, and its metadata.

One file holds measurements of ONE backend configuration (``meta.backend_config``); opening it
to add rows with another configuration is an error, never a silent mix. Every ``put_*`` call is
committed before it returns, so an interrupted run loses at most the measurement in flight.
One process writes a file at a time (:class:`lutnas.filelock.WriterLock` on ``<file>.lock``,
taken by :meth:`LutStore.create_or_resume`); a new file appears complete or not at all; readers
(:meth:`LutStore.open` with ``writable=False``) need no write access, so a LUT on read-only
storage can be read. The tables and columns: :mod:`lut.schema`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from lut.identity import with_identity_defaults
from lut.measurement import Measurement
from lut.schema import (  # FORMAT, SCHEMA_VERSION: importable from here too
    FORMAT,
    LAYER_COLUMNS,
    MODEL_COLUMNS,
    SCHEMA_VERSION,
    SPEC_COLUMNS,
    drift_values,
    insert_sql,
    stat_values,
    upgrade,
)
from lut.spec import LayerSpec
from lut.store_util import (  # describe_diff: importable from here too
    checked_meta,
    describe_diff,
    may_write,
    now,
    put_meta,
    read_sql,
    refuse_directory,
    with_defaults,
    write_new_file,
)
from lutnas import __version__
from lutnas.errors import LutnasError
from lutnas.filelock import WriterLock
from lutnas.sqlite import connect, connect_readonly, transaction

if TYPE_CHECKING:
    import pandas as pd


class LutStore:
    """An open LUT file. Use :meth:`open` to read, :meth:`create_or_resume` to profile into."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: WriterLock | None = None
    ) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock  # held while this process writes the file

    # --- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, writable: bool = True) -> LutStore:
        """Open an existing LUT; ``writable=False`` to only read it (no write access needed).

        A writable open of a file this process may not write (read-only storage, permissions)
        falls back to reading it, and a later write fails with an error saying so.

        Raises:
            LutnasError: no such file, or the file is not a lutnas LUT (corrupt, another format).
        """
        path = Path(path)
        refuse_directory(path)
        if not path.is_file():
            raise LutnasError(
                f"no LUT file at {path}; create one with: profile-device --out {path}"
            )
        writable = writable and may_write(path)
        try:
            conn = connect(path) if writable else connect_readonly(path)
        except sqlite3.OperationalError as exc:
            raise LutnasError(f"cannot read {path} ({exc}); check its permissions") from None
        except sqlite3.DatabaseError as exc:  # not an SQLite file at all
            raise LutnasError(
                f"{path} is not a lutnas LUT file ({exc}); it may be corrupt or another format. "
                "Point to a file written by profile-device, or profile again into a new --out."
            ) from None
        meta = checked_meta(conn, path)  # closes conn when it raises
        if not writable:
            return cls(path, conn)
        conn.execute("PRAGMA journal_mode=WAL")
        if meta.get("schema_version", 0) < SCHEMA_VERSION:
            upgrade(conn)
        return cls(path, conn)

    @classmethod
    def create(
        cls, path: str | Path, backend_config: dict, device: dict, settings: dict
    ) -> LutStore:
        """Create a new LUT file, complete or not at all (:func:`lut.store_util.write_new_file`).
        Refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise LutnasError(f"{path} already exists; resume into it or choose another --out")
        write_new_file(
            path,
            {
                "format": FORMAT,
                "schema_version": SCHEMA_VERSION,
                "tool_version": __version__,
                "created_at": now(),
                "backend_config": with_identity_defaults(backend_config),
                "device": device,
                "settings": settings,
            },
        )
        conn = connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        return cls(path, conn)

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
        return cls._locked(
            path,
            "; profile into another --out, or make it writable",
            "wait for it to finish, or choose another --out",
            lambda p: cls._create_or_open(p, backend_config, device, settings, resume),
        )

    @classmethod
    def edit(cls, path: str | Path) -> LutStore:
        """Open an existing LUT to change its rows, holding the writer lock (as profiling does)
        until :meth:`close`.

        Raises:
            LutnasError: no such file, not a LUT or damaged, not writable here, or another
                process is writing it.
        """
        return cls._locked(path, "", "wait for it to finish, then run the command again", cls.open)

    @classmethod
    def _locked(cls, path: str | Path, read_only_advice: str, wait_advice: str, opener):
        """``opener(path)`` holding the writer lock, which the store keeps until it closes."""
        path = Path(path)
        refuse_directory(path)
        if path.exists() and not may_write(path):
            raise LutnasError(
                f"{path} is read-only here (file or directory not writable){read_only_advice}"
            )
        lock = WriterLock(path, wait_advice).acquire()
        try:
            store = opener(path)
        except BaseException:
            lock.release()
            raise
        store._lock = lock
        return store

    @classmethod
    def _create_or_open(
        cls, path: Path, backend_config: dict, device: dict, settings: dict, resume: bool
    ) -> LutStore:
        if not path.exists():
            return cls.create(path, backend_config, device, settings)
        if not resume:
            raise LutnasError(
                f"{path} already exists and resuming is off; "
                "drop --no-resume to continue it, or choose another --out"
            )
        store = cls.open(path)
        stored_cfg, backend_config = store.backend_config, with_identity_defaults(backend_config)
        stored_settings, settings = with_defaults(store.settings), with_defaults(settings)
        if stored_cfg != backend_config:
            store.close()
            raise LutnasError(
                f"{path} was measured with another backend configuration "
                f"({describe_diff(stored_cfg, backend_config)}); resuming would mix numbers. "
                "Use the same options, or choose another --out."
            )
        if stored_settings != settings:
            store.close()
            raise LutnasError(
                f"{path} was measured with other settings "
                f"({describe_diff(stored_settings, settings)}); "
                "rerun with the same --warmup/--runs/--no-drift-correction, "
                "or choose another --out."
            )
        return store

    def close(self) -> None:
        self._conn.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> LutStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata --------------------------------------------------------------------------
    def _set_meta(self, key: str, value: object) -> None:
        put_meta(self._conn, key, value)

    def set_meta(self, key: str, value: object) -> None:
        self._set_meta(key, value)

    @property
    def meta(self) -> dict:
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    @property
    def backend_config(self) -> dict:
        """The configuration the rows were measured with; identity fields an older file lacks
        carry their defaults (:mod:`lut.identity`)."""
        return with_identity_defaults(self.meta["backend_config"])

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
            insert_sql("layers", LAYER_COLUMNS),
            (
                spec.key,
                *(getattr(spec, c) for c in SPEC_COLUMNS),
                *stat_values(m),
                attempts,
                now(),
                *drift_values(m),
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
        return read_sql("SELECT * FROM layers ORDER BY key", self._conn)

    # --- whole models ----------------------------------------------------------------------
    def put_model(self, arch, m: Measurement, attempts: int = 1, name: str | None = None) -> None:
        """Store the whole-model measurement of ``arch``: an :class:`lutnas.spaces.arch.Arch`, or
        anything with its ``key``, ``to_json()``, ``space`` and ``resolution``."""
        self._conn.execute(
            insert_sql("models", MODEL_COLUMNS),
            (
                arch.key,
                arch.to_json(),
                arch.space,
                arch.resolution,
                name,
                *stat_values(m),
                attempts,
                now(),
                *drift_values(m),
            ),
        )

    def model_keys(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT arch_key FROM models")}

    def models_frame(self) -> pd.DataFrame:
        return read_sql("SELECT * FROM models ORDER BY arch_key", self._conn)

    # --- removing rows ---------------------------------------------------------------------
    def remove_layers(self, keys: Iterable[str]) -> list[str]:
        """Delete the rows of ``keys`` (all or none); returns the keys that were there."""
        return self._remove("layers", "key", keys)

    def remove_models(self, keys: Iterable[str]) -> list[str]:
        """Delete the whole-model rows of these arch keys; returns the keys that were there."""
        return self._remove("models", "arch_key", keys)

    def _remove(self, table: str, column: str, keys: Iterable[str]) -> list[str]:
        removed = []
        with transaction(self._conn):
            for key in dict.fromkeys(keys):
                sql = f"DELETE FROM {table} WHERE {column} = ?"
                if self._conn.execute(sql, (key,)).rowcount:
                    removed.append(key)
        return removed

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
            (key, median_ms, ratio, rows_done, now()),
        )
        return ratio

    def reference_frame(self) -> pd.DataFrame:
        return read_sql("SELECT * FROM reference ORDER BY id", self._conn)
