"""Every stored row is checked when read (issue 25): its checksum, and values a measurement can
have. A failing row is left out, named, and measured again by the next profile; files from
before checksums are read by the plausibility check and gain checksums when next opened to
write."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3

import pytest
from test_store import CONFIG, DEVICE, SETTINGS, A, B, m, small_lut

from lut import schema
from lut.rowcheck import implausible, row_problem
from lut.schema import CHECKSUM_COLUMN, SCHEMA_VERSION, row_checksum
from lut.store import LutStore
from lutnas.cli.main import main
from lutnas.spaces.named import get_named_arch
from profiler.base import get_backend
from profiler.loop import ProfileSettings, profile_layers


def _raw(path, table="layers", key=A.key) -> dict:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    column = "key" if table == "layers" else "arch_key"
    row = dict(conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (key,)).fetchone())
    conn.close()
    return row


def _set(path, sql, params=()) -> None:
    """Change the file behind the store's back, as a flipped bit or a foreign tool would."""
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.fixture
def lut(tmp_path):
    return small_lut(tmp_path / "a.lut")


def test_rows_as_written_pass_both_checks(lut):
    for table, key in (("layers", A.key), ("models", get_named_arch("mobilenetv2-1.0").key)):
        row = _raw(lut, table, key)
        assert row[CHECKSUM_COLUMN] == row_checksum(table, row)
        assert row_problem(table, row, checksummed=True) is None


@pytest.mark.parametrize(
    "column, value, said",
    [
        ("median_ms", 0.0, "median_ms 0.0 is not a positive number"),
        ("median_ms", float("inf"), "median_ms inf"),
        ("mean_ms", -1.0, "mean_ms -1.0"),
        ("p10_ms", 1.5, "p10_ms 1.5 is above the median"),
        ("p90_ms", 0.5, "p90_ms 0.5 is below the median"),
        ("std_ms", -0.1, "std_ms -0.1 is not a non-negative number"),
        ("cv", 0.5, "cv 0.5 is not std_ms / mean_ms"),
        ("n", 0, "n 0 is not a whole number of runs"),
        ("n", 2.5, "n 2.5"),
        ("warmup", -1, "warmup -1"),
        ("attempts", 0, "attempts 0"),
        ("drift_factor", 0.0, "drift_factor 0.0 is not a positive number"),
        ("kernel", 7, "kernel 7 differs from its key's 3"),
        ("key", "mbconv_k3_nonsense", "is not a layer key"),
    ],
)
def test_each_impossible_value_is_named(lut, column, value, said):
    row = {**_raw(lut), column: value}
    assert said in implausible("layers", row)
    assert row_problem("layers", row, checksummed=True).startswith("checksum mismatch")


def test_std_from_a_single_run_is_impossible(lut):
    row = {**_raw(lut), "n": 1}
    assert "from a single run" in implausible("layers", row)


def test_every_column_is_covered_and_a_new_column_joins_without_breaking_old_rows(lut, monkeypatch):
    row = _raw(lut)
    for column in schema.LAYER_COLUMNS:
        changed = {**row, column: "x" if isinstance(row[column], str) else 12345.0}
        assert row_checksum("layers", changed) != row[CHECKSUM_COLUMN], column
    # another helper adds a column (e.g. a runner statistic): rows without it keep their sum
    monkeypatch.setitem(schema.CHECKED_COLUMNS, "layers", (*schema.LAYER_COLUMNS, "runner_min_ms"))
    assert row_checksum("layers", {**row, "runner_min_ms": None}) == row[CHECKSUM_COLUMN]
    assert row_checksum("layers", {**row, "runner_min_ms": 0.9}) != row[CHECKSUM_COLUMN]


def test_a_changed_row_is_left_out_named_and_measured_again(lut, caplog, capsys):
    _set(lut, "UPDATE layers SET median_ms = 1.5637 WHERE key = ?", (A.key,))
    with caplog.at_level(logging.WARNING), LutStore.open(lut, writable=False) as store:
        assert set(store.layers_frame()["key"]) == {B.key}
        assert store.latency_ms([A.key, B.key]) == pytest.approx({B.key: 2.0})
        assert store.layer_keys() == {B.key}  # so a resumed profile measures it again
        assert "checksum mismatch" in store.damaged_rows()["layers"][A.key]
    assert caplog.text.count(A.key) >= 1 and "left out" in caplog.text

    assert main(["lut", "show", str(lut)]) == 0
    assert f"damaged: {lut}: 1 layer row fails its check" in capsys.readouterr().out

    with LutStore.create_or_resume(lut, CONFIG, DEVICE, SETTINGS) as store:
        store.put_layer(A, m(1.1))  # what profile-device does with it
        assert store.latency_ms([A.key]) == pytest.approx({A.key: 1.1})
        assert not store.damaged_rows()


def test_a_resumed_profile_measures_a_damaged_row_again(tmp_path):
    settings = ProfileSettings(warmup=1, runs=3, max_attempts=1, reference_every=0)
    small = dataclasses.replace(get_named_arch("mobilenetv2-1.0"), resolution=32).layers()[:3]
    path = tmp_path / "p.lut"
    with get_backend("onnxruntime", threads=1) as backend:
        with LutStore.create_or_resume(
            path, backend.config(), backend.device_info(), settings.identity()
        ) as store:
            profile_layers(backend, store, small, settings, progress=False)
        damaged = small[0].key
        _set(path, "UPDATE layers SET p10_ms = p90_ms * 2 WHERE key = ?", (damaged,))
        with LutStore.create_or_resume(
            path, backend.config(), backend.device_info(), settings.identity()
        ) as store:
            report = profile_layers(backend, store, small, settings, progress=False)
            assert report.measured == 1 and not store.damaged_rows()
            assert damaged in store.layer_keys()


def test_remove_drops_a_damaged_row(lut, capsys):
    _set(lut, "UPDATE layers SET n = 7 WHERE key = ?", (A.key,))
    assert main(["lut", "remove", str(lut), A.key]) == 0
    assert "removed 1 layer rows" in capsys.readouterr().out


def _as_schema_2(path) -> None:
    """The file as lutnas wrote it before checksums."""
    conn = sqlite3.connect(path)
    for table in ("layers", "models"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {CHECKSUM_COLUMN}")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


def test_an_old_file_is_read_by_plausibility_and_gains_checksums_on_upgrade(lut, caplog):
    _as_schema_2(lut)
    _set(lut, "UPDATE layers SET p10_ms = 5.0 WHERE key = ?", (B.key,))  # impossible
    with caplog.at_level(logging.WARNING), LutStore.open(lut, writable=False) as store:
        assert set(store.layers_frame()["key"]) == {A.key}  # read-only: no upgrade
        assert "p10_ms 5.0 is above the median" in store.damaged_rows()["layers"][B.key]
    with LutStore.open(lut) as store:  # writable: upgraded
        assert store.meta["schema_version"] == SCHEMA_VERSION
        assert set(store.layers_frame()["key"]) == {A.key}
        assert "no checksum and p10_ms" in store.damaged_rows()["layers"][B.key]
    a, b = _raw(lut), _raw(lut, key=B.key)
    assert a[CHECKSUM_COLUMN] == row_checksum("layers", a)
    assert b[CHECKSUM_COLUMN] is None  # an impossible row is not sealed as if it were right
