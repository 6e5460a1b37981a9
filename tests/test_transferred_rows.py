"""Transferred rows (issue 28) are kept as carefully as measurements: each carries a checksum and
is checked on every read (a damaged one is left out and named, never read as it is; files from
before the checksum are read by the plausibility check and gain checksums when next opened to
write), ``lut merge`` carries them where no file measured the key, ``lut repair`` salvages them
and ``lut export`` writes them marked. The files are real LUTs written by the store; the
transferred values are made up (what a transfer writes is tested in test_transfer.py)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from test_lut_repair import PAGE, _pages
from test_store import CONFIG, DEVICE, SETTINGS, m

from lut.export import export_csv, export_parquet, merge
from lut.schema import CHECKSUM_COLUMN, SCHEMA_VERSION
from lut.store import LutStore
from lut.transferred import (
    TransferredRow,
    transferred_count,
    transferred_frame,
    transferred_ms,
    write_transferred,
)
from lutnas.cli.main import main
from lutnas.spaces.space import get_space

SPECS = get_space("mnasnet").unique_layers(224)[:200]
KEYS = [s.key for s in SPECS]


def moved(spec, median: float, width: float = 0.1, part: str = "shared") -> TransferredRow:
    return TransferredRow(
        spec=spec,
        median_ms=median,
        low_ms=median * (1 - width),
        high_ms=median * (1 + width),
        source_ms=2 * median,
        map_part=part,
    )


def make_lut(path: Path, measured: range, transferred: range, width: float = 0.1) -> Path:
    """A LUT measuring ``SPECS[measured]`` (1 ms + i/100) with ``SPECS[transferred]`` moved in
    (3 ms + i/100, interval ±``width``) from a source named after the file."""
    with LutStore.create(path, CONFIG, DEVICE, SETTINGS) as store:
        for i in measured:
            store.put_layer(SPECS[i], m(1 + i / 100))
        rows = [moved(SPECS[i], 3 + i / 100, width) for i in transferred]
        write_transferred(store, rows, {"source": {"path": f"{path.stem}-source.lut"}})
    return path


def _sql(path: Path, sql: str, params: tuple = ()) -> None:
    """Change the file behind the store's back, as a flipped bit or a foreign tool would."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_transferred_rows_carry_checksums_and_a_damaged_one_is_named_not_read(
    tmp_path, caplog, capsys
):
    path = make_lut(tmp_path / "t.lut", range(5), range(5, 40))
    conn = sqlite3.connect(path)
    sums = dict(conn.execute(f"SELECT key, {CHECKSUM_COLUMN} FROM transferred"))
    conn.close()
    assert len(sums) == 35 and all(sums.values())
    bad = KEYS[7]
    _sql(path, "UPDATE transferred SET median_ms = 3.5 WHERE key = ?", (bad,))  # in its interval
    with caplog.at_level(logging.WARNING), LutStore.open(path, writable=False) as store:
        assert bad not in transferred_ms(store) and len(transferred_ms(store)) == 34
        assert bad not in set(transferred_frame(store)["key"])
        assert transferred_count(store) == 34
        assert "checksum mismatch" in store.damaged_rows()["transferred"][bad]
    warned = [r.getMessage() for r in caplog.records if bad in r.getMessage()]
    assert len(warned) == 1 and "1 transferred row fails its check" in warned[0]
    assert "--transfer-from" in warned[0]  # transferring again replaces it
    assert main(["lut", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "transferred: 34 rows" in shown and f"damaged: {path}: 1 transferred row" in shown

    with LutStore.open(path) as store:  # a new transfer rewrites every row: nothing is damaged
        write_transferred(store, [moved(SPECS[i], 3.0) for i in range(5, 40)], {})
        assert transferred_count(store) == 35 and not store.damaged_rows()


def test_transferred_rows_from_before_their_checksum_are_checked_and_gain_one(tmp_path):
    path = make_lut(tmp_path / "t.lut", range(3), range(3, 13))
    # the file as schema 4 wrote it: no checksum on transferred rows, one row impossible
    _sql(path, f"ALTER TABLE transferred DROP COLUMN {CHECKSUM_COLUMN}")
    _sql(path, "UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    _sql(path, "UPDATE transferred SET low_ms = 9.0 WHERE key = ?", (KEYS[4],))
    with LutStore.open(path, writable=False) as store:  # read as it is
        assert set(transferred_ms(store)) == set(KEYS[3:13]) - {KEYS[4]}
        assert "interval 9.0-" in store.damaged_rows()["transferred"][KEYS[4]]
    with LutStore.open(path) as store:  # opened to write: upgraded
        assert store.meta["schema_version"] == SCHEMA_VERSION
        assert len(transferred_ms(store)) == 9
        assert store.damaged_rows()["transferred"][KEYS[4]].startswith("no checksum and")
    conn = sqlite3.connect(path)
    sums = dict(conn.execute(f"SELECT key, {CHECKSUM_COLUMN} FROM transferred"))
    conn.close()
    assert sums.pop(KEYS[4]) is None and all(sums.values())


def _layers(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(measured, transferred) medians of a LUT."""
    with LutStore.open(path, writable=False) as store:
        frame = store.layers_frame()
        return dict(zip(frame["key"], frame["median_ms"], strict=True)), transferred_ms(store)


def test_merge_keeps_a_measurement_over_a_transferred_row_from_either_side(tmp_path, capsys):
    x = make_lut(tmp_path / "x.lut", range(0, 4), range(4, 12), width=0.1)
    y = make_lut(tmp_path / "y.lut", range(4, 6), [*range(0, 2), *range(10, 16)], width=0.05)
    for order, out in (([x, y], "xy.lut"), ([y, x], "yx.lut")):
        out = tmp_path / out
        counts = merge(out, order)
        measured, transferred = _layers(out)
        assert set(measured) == set(KEYS[0:6])  # 0-3 from x, 4-5 from y: measurements win
        assert set(transferred) == set(KEYS[6:16])  # 6-11 from x, 10-15 from y
        assert counts["transferred"] == 10 and counts["transferred_conflicts"] == 2
        with LutStore.open(out, writable=False) as store:
            rows = transferred_frame(store).set_index("key")
            meta = store.meta["transfer"]
        # keys 10 and 11 are transferred in both: y's narrower interval is kept
        for k in KEYS[10:12]:
            assert rows.loc[k, "high_ms"] / rows.loc[k, "low_ms"] == pytest.approx(1.05 / 0.95)
        assert {f["lut"] for f in meta["merged_from"]} == {str(x), str(y)}
    assert main(["lut", "merge", str(x), str(y), "--out", str(tmp_path / "cli.lut")]) == 0
    assert "10 transferred rows (not measurements) where no file measured" in (
        capsys.readouterr().out
    )
    # the merged file itself as an input, again: still measurements first, nothing doubled
    assert merge(tmp_path / "xy.lut", [tmp_path / "yx.lut"])["transferred"] == 10
    assert _layers(tmp_path / "xy.lut") == _layers(tmp_path / "yx.lut")


def test_repair_salvages_transferred_rows_like_measured_ones(tmp_path, capsys):
    path = make_lut(tmp_path / "t.lut", range(10), range(10, 200))
    _, before = _layers(path)
    bad = KEYS[20]
    _sql(path, "UPDATE transferred SET median_ms = 3.25 WHERE key = ?", (bad,))
    assert main(["lut", "repair", str(path), "--out", str(tmp_path / "a.lut")]) == 0
    assert "189 transferred rows" in capsys.readouterr().out
    measured, after = _layers(tmp_path / "a.lut")
    assert len(measured) == 10 and after == {k: v for k, v in before.items() if k != bad}
    with LutStore.open(tmp_path / "a.lut", writable=False) as store:
        assert not store.damaged_rows()  # every copied row has its checksum
        assert store.meta["repaired"]["lost"]["transferred"] == [bad]
        assert store.meta["transfer"]["source"]["path"] == "t-source.lut"

    # a lost page of the transferred table: SQLite refuses the file; the rest is read
    pages = _pages(path, "transferred")
    assert len(pages) > 2
    data = bytearray(path.read_bytes())
    data[(pages[1] - 1) * PAGE : pages[1] * PAGE] = bytes(PAGE)
    (tmp_path / "zeroed.lut").write_bytes(bytes(data))
    assert main(["lut", "repair", str(tmp_path / "zeroed.lut"), "--out", str(tmp_path / "b")]) == 0
    measured, salvaged = _layers(tmp_path / "b")
    assert len(measured) == 10
    assert 0 < len(salvaged) < 189 and all(before[k] == v for k, v in salvaged.items())


def test_export_marks_transferred_rows_and_their_interval(tmp_path):
    path = make_lut(tmp_path / "t.lut", range(3), range(3, 8))
    with LutStore.open(path, writable=False) as store:
        export_csv(store, tmp_path / "t.csv")
        export_parquet(store, tmp_path / "t.parquet")
    for frame in (pd.read_csv(tmp_path / "t.csv"), pd.read_parquet(tmp_path / "t.parquet")):
        assert list(frame["key"]) == sorted(KEYS[:8])
        rows = frame.set_index("key")
        assert not rows.loc[KEYS[:3], "transferred"].any()
        assert rows.loc[KEYS[3:8], "transferred"].all()
        assert rows.loc[KEYS[:3], "low_ms"].isna().all()  # a measurement has no moved interval
        moved_rows = rows.loc[KEYS[3:8]]
        assert (moved_rows["low_ms"] < moved_rows["median_ms"]).all()
        assert (moved_rows["median_ms"] < moved_rows["high_ms"]).all()
        assert moved_rows["n"].isna().all() and (rows.loc[KEYS[:3], "n"] == 5).all()
    meta = json.loads((tmp_path / "t.meta.json").read_text())
    assert meta["transfer"]["source"]["path"] == "t-source.lut"
    plain = make_lut(tmp_path / "plain.lut", range(3), range(0))
    with LutStore.open(plain, writable=False) as store:  # no transferred rows: no new column
        export_csv(store, tmp_path / "plain.csv")
    assert "transferred" not in pd.read_csv(tmp_path / "plain.csv").columns
