"""The LUT file: SQLite (stdlib), one row per layer key, every statistic, and its metadata.

One file holds measurements of ONE backend configuration (``meta.backend_config``); opening it
to add rows with another configuration is an error, never a silent mix. Every ``put_*`` call is
committed before it returns, so an interrupted run (Ctrl-C, a kill, a crash of the process)
loses at most the measurement in flight. Commits go to SQLite's write-ahead log without an
fsync each (``synchronous=NORMAL``: an fsync took 6.5 ms a row here, ~15 % of a layer's timed
runs); the log is synced at each checkpoint, so a power cut or OS crash can lose the rows
since the last one (about a thousand pages of log), never the file's consistency.
One process writes a file at a time (:class:`lutnas.filelock.WriterLock` on ``<file>.lock``,
taken by :meth:`LutStore.create_or_resume`); a new file appears complete or not at all; readers
(:meth:`LutStore.open` with ``writable=False``) need no write access, so a LUT on read-only
storage can be read. The tables and columns: :mod:`lut.schema`.

Every row read is checked (:mod:`lut.rowcheck`: its checksum and plausible values); a row that
fails is left out of what readers get, named in one warning, and measured again by the next
profile-device run into the file (it is not among :meth:`LutStore.layer_keys`). A read or write
SQLite cannot do ends in a :class:`LutnasError` naming the file: damage with its recovery, a
full disk with where to free space.
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
    CHECKSUM_COLUMN,
    FORMAT,
    SCHEMA_VERSION,
    SPEC_COLUMNS,
    drift_values,
    runner_values,
    stat_values,
    upgrade,
)
from lut.spec import LayerSpec
from lut.store_rows import CheckedRows, RowAccess
from lut.store_util import (  # describe_diff: importable from here too
    checked_meta,
    describe_diff,
    may_write,
    not_a_lut_message,
    now,
    put_meta,
    read_failure,
    read_sql,
    refuse_directory,
    sweep_temp_files,
    with_defaults,
    write_failure,
    write_new_file,
)
from lutnas import __version__
from lutnas.errors import LutnasError
from lutnas.filelock import WriterLock
from lutnas.sqlite import connect, connect_readonly, transaction

if TYPE_CHECKING:
    import pandas as pd


def _for_writing(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # a commit survives a crash of the process


class LutStore(RowAccess):
    """An open LUT file. Use :meth:`open` to read, :meth:`create_or_resume` to profile into."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: WriterLock | None = None
    ) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock  # held while this process writes the file
        columns = {r[1] for r in self._query("PRAGMA table_info(layers)")}
        self.checks = CheckedRows(path, checksummed=CHECKSUM_COLUMN in columns)

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
        except sqlite3.DatabaseError as exc:  # not an SQLite file at all, or its header damaged
            raise LutnasError(not_a_lut_message(path, str(exc))) from None
        meta = checked_meta(conn, path)  # closes conn when it raises
        if writable:
            try:
                _for_writing(conn)
                if meta.get("schema_version", 0) < SCHEMA_VERSION:
                    upgrade(conn)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise LutnasError(write_failure(path, exc)) from None
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
        _for_writing(conn)
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
            sweep_temp_files(path)  # what killed writers of this file left
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

    closed = False  # set by close(): the file is no longer open here

    def close(self) -> None:
        self.closed = True
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
        try:
            put_meta(self._conn, key, value)
        except sqlite3.DatabaseError as exc:
            raise LutnasError(write_failure(self.path, exc)) from None

    def set_meta(self, key: str, value: object) -> None:
        self._set_meta(key, value)

    @property
    def meta(self) -> dict:
        rows = self._query("SELECT key, value FROM meta")
        try:
            return {r["key"]: json.loads(r["value"]) for r in rows}
        except ValueError as exc:
            raise LutnasError(
                read_failure(
                    self.path, sqlite3.DatabaseError(f"a metadata value is corrupt: {exc}")
                )
            ) from None

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
        self._put(
            "layers",
            (
                spec.key,
                *(getattr(spec, c) for c in SPEC_COLUMNS),
                *stat_values(m),
                attempts,
                now(),
                *drift_values(m),
                *runner_values(m),
            ),
        )

    # --- whole models ----------------------------------------------------------------------
    def put_model(self, arch, m: Measurement, attempts: int = 1, name: str | None = None) -> None:
        """Store the whole-model measurement of ``arch``: an :class:`lutnas.spaces.arch.Arch`, or
        anything with its ``key``, ``to_json()``, ``space`` and ``resolution``."""
        self._put(
            "models",
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
                *runner_values(m),
            ),
        )

    # --- removing rows ---------------------------------------------------------------------
    def remove_layers(self, keys: Iterable[str]) -> list[str]:
        """Delete the rows of ``keys`` (all or none); returns the keys that were there."""
        return self._remove("layers", "key", keys)

    def remove_models(self, keys: Iterable[str]) -> list[str]:
        """Delete the whole-model rows of these arch keys; returns the keys that were there."""
        return self._remove("models", "arch_key", keys)

    def _remove(self, table: str, column: str, keys: Iterable[str]) -> list[str]:
        removed = []
        try:
            with transaction(self._conn):
                for key in dict.fromkeys(keys):
                    sql = f"DELETE FROM {table} WHERE {column} = ?"
                    if self._conn.execute(sql, (key,)).rowcount:
                        removed.append(key)
        except sqlite3.DatabaseError as exc:
            raise LutnasError(write_failure(self.path, exc)) from None
        return removed

    # --- reference layer (drift) -------------------------------------------------------------
    def add_reference(self, key: str, median_ms: float, rows_done: int) -> float:
        """Record a re-timing of the reference layer; returns its ratio to the first timing."""
        first = self._query(
            "SELECT median_ms FROM reference WHERE key = ? ORDER BY id LIMIT 1", (key,)
        )
        ratio = median_ms / first[0][0] if first else 1.0
        self._write(
            "INSERT INTO reference (key, median_ms, ratio, rows_done, measured_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, median_ms, ratio, rows_done, now()),
        )
        return ratio

    def reference_frame(self) -> pd.DataFrame:
        try:
            return read_sql("SELECT * FROM reference ORDER BY id", self._conn)
        except sqlite3.DatabaseError as exc:
            raise LutnasError(read_failure(self.path, exc)) from None
