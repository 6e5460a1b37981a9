"""Reading table rows straight from SQLite pages (:mod:`lut.pages`), checked against SQLite
itself on the same files: every value of every row, overflow chains, freed pages, leaves whose
parent page is lost, and a file cut inside a page."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from test_lut_repair import _pages

from lut.pages import latest, looks_like_lut, read_pages
from lut.schema import SCHEMA_SQL

PAGE = 4096
MODEL_COLUMNS = (
    "arch_key, arch_json, space, resolution, name, median_ms, mean_ms, std_ms, p10_ms, p90_ms, n, "
    "warmup, cv, attempts, measured_at, reference_ms, drift_factor, checksum"
)  # named: later schemas add columns (left NULL here, as in an upgraded file)
MODEL_ROW = f"INSERT INTO models ({MODEL_COLUMNS}) VALUES (" + ", ".join("?" * 18) + ")"


def _db(path: Path, models: int = 60, references: int = 30, sizes=(10, 3000, 9000, 70000)):
    """A file with the LUT schema: model rows with arch_json of several sizes (long ones spill
    onto overflow pages), reference rows, and three rows deleted (their pages freed)."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_SQL)
    rng = random.Random(7)
    for i in range(models):
        text = "x" * rng.choice(sizes)
        conn.execute(MODEL_ROW, (f"k{i}", text, "mnasnet", 224, None, 1.0 + i, 1.0, 0.1, 0.9,
                                 1.1 + i, 5, 1, 0.1, 1, "t", None, None, "c"))  # fmt: skip
    for i in range(references):
        conn.execute(
            "INSERT INTO reference (key, median_ms, ratio, rows_done, measured_at) "
            "VALUES ('r', ?, 1.0, ?, 't')",
            (1.0 + i / 10, i),
        )
    conn.execute("DELETE FROM models WHERE arch_key IN ('k3', 'k7', 'k20')")
    conn.commit()
    conn.close()
    return path


def _sqlite_rows(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    cursor = conn.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid")
    names = [d[0] for d in cursor.description]
    rows = [tuple(r) for r in cursor]
    conn.close()
    return names, rows


def _page_rows(found, table: str, names: list[str]) -> list[tuple]:
    return sorted(tuple(r[n] for n in names) for r in found.rows[table])


def test_every_row_of_a_sound_file_reads_as_sqlite_reads_it(tmp_path):
    path = _db(tmp_path / "a.db")
    found = read_pages(path, SCHEMA_SQL)
    for table in ("models", "reference"):
        names, rows = _sqlite_rows(path, table)
        assert _page_rows(found, table, names) == rows
    assert found.unreadable_cells == 0
    assert found.indexed_keys["models"] == {f"k{i}" for i in range(60)} - {"k3", "k7", "k20"}


def test_freed_pages_do_not_bring_deleted_rows_back(tmp_path):
    path = _db(tmp_path / "a.db", models=120, sizes=(500,))
    before = path.read_bytes()
    stale = [  # leaf images holding rows about to be deleted
        before[(p - 1) * PAGE : p * PAGE]
        for p in _pages(path, "models", "leaf")
        if b"k45" in before[(p - 1) * PAGE : p * PAGE]
    ]
    gone = {f"k{i}" for i in range(30, 80)}  # several whole leaf pages' worth
    conn = sqlite3.connect(path)
    conn.execute(f"DELETE FROM models WHERE arch_key IN ({','.join('?' * len(gone))})", [*gone])
    conn.commit()
    used = {r[0] for r in conn.execute("SELECT pageno FROM dbstat")}
    conn.close()
    data = bytearray(path.read_bytes())
    trunk = int.from_bytes(data[32:36], "big")
    free = sorted(set(range(1, len(data) // PAGE + 1)) - used - {trunk})
    assert free and stale
    # a freed leaf that kept its old bytes (builds without secure_delete do): only the
    # freelist says its rows are gone
    data[(free[0] - 1) * PAGE : free[0] * PAGE] = stale[0]
    path.write_bytes(bytes(data))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    keys = {r["arch_key"] for r in read_pages(path, SCHEMA_SQL).rows["models"]}
    assert not keys & gone
    assert len(keys) == 120 - 3 - len(gone - {"k3", "k7", "k20"})


def test_leaves_whose_parent_page_is_lost_are_read_by_their_shape(tmp_path):
    path = _db(tmp_path / "a.db", models=120, sizes=(10, 500))
    names, rows = _sqlite_rows(path, "models")
    interior = _pages(path, "models", "internal")
    assert interior
    data = bytearray(path.read_bytes())
    for page in interior:  # the table's interior pages zeroed: its leaves are orphans
        data[(page - 1) * PAGE : page * PAGE] = bytes(PAGE)
    path.write_bytes(bytes(data))
    with pytest.raises(sqlite3.DatabaseError):
        _sqlite_rows(path, "models")
    found = read_pages(path, SCHEMA_SQL)
    assert _page_rows(found, "models", names) == rows
    ref_names, ref_rows = _sqlite_rows(tmp_path / "a.db", "reference")
    assert _page_rows(found, "reference", ref_names) == ref_rows  # not mistaken for models


def test_a_file_cut_inside_a_page_gives_its_whole_cells_and_nothing_else(tmp_path):
    path = _db(tmp_path / "a.db", models=150, references=0, sizes=(200,))
    names, rows = _sqlite_rows(path, "models")
    data = path.read_bytes()
    leaves = sorted(_pages(path, "models", "leaf"))
    cut = tmp_path / "cut.db"
    last = leaves[-1]
    cut.write_bytes(data[: (last - 1) * PAGE + PAGE // 2])  # half of the last leaf
    found = read_pages(cut, SCHEMA_SQL)
    got = _page_rows(found, "models", names)
    assert set(got) <= set(rows)  # every row returned is whole and right
    on_earlier_leaves = len(rows) - _cells(path, last)
    assert len(got) >= on_earlier_leaves


def _cells(path: Path, page: int) -> int:
    conn = sqlite3.connect(path)
    n = conn.execute("SELECT ncell FROM dbstat WHERE pageno = ?", (page,)).fetchone()[0]
    conn.close()
    return n


def test_latest_keeps_the_newest_copy_of_a_key():
    rows = [{"key": "a", "rowid": 3, "v": 1}, {"key": "a", "rowid": 9, "v": 2}]
    assert latest(rows, "key")["a"]["v"] == 2


def test_a_file_that_is_no_sqlite_file_is_refused(tmp_path):
    junk = tmp_path / "junk.lut"
    junk.write_bytes(b"not sqlite" * 100)
    with pytest.raises(ValueError, match="no SQLite header"):
        read_pages(junk, SCHEMA_SQL)
    assert not looks_like_lut(junk)
    assert not looks_like_lut(_db(tmp_path / "a.db"))  # SQLite, LUT tables, but no LUT meta


def _with_log(tmp_path: Path) -> Path:
    """A copy of a file and its write-ahead log taken while the writer still had them open:
    ten commits in the log, none checkpointed into the file."""
    live = tmp_path / "live.db"
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.executescript(SCHEMA_SQL)
    for i in range(10):
        conn.execute(MODEL_ROW, (f"w{i}", "x" * 900, "mnasnet", 224, None, 1.0 + i, 1.0, 0.1,
                                 0.9, 1.1 + i, 5, 1, 0.1, 1, "t", None, None, "c"))  # fmt: skip
    copy = tmp_path / "copy.db"
    copy.write_bytes(live.read_bytes())
    Path(f"{copy}-wal").write_bytes(Path(f"{live}-wal").read_bytes())
    conn.close()
    return copy


@pytest.mark.parametrize("log_damage", ["none", "torn-last-frame", "bad-byte-in-a-frame"])
def test_a_write_ahead_log_counts_as_sqlite_counts_it(tmp_path, log_damage):
    path = _with_log(tmp_path)
    wal = Path(f"{path}-wal")
    log = bytearray(wal.read_bytes())
    frame = 24 + PAGE
    if log_damage == "torn-last-frame":
        del log[-frame // 2 :]
    elif log_damage == "bad-byte-in-a-frame":
        log[32 + frame * (len(log) // frame // 2) + 24 + 100] ^= 0xFF  # a middle frame's page
    wal.write_bytes(bytes(log))
    assert len(Path(path).read_bytes()) // PAGE < 12  # the rows are in the log only
    found = read_pages(path, SCHEMA_SQL)  # first: SQLite checkpoints the log when it closes
    names, rows = _sqlite_rows(path, "models")
    assert len(rows) == 10 if log_damage == "none" else 0 < len(rows) < 10
    assert _page_rows(found, "models", names) == rows
