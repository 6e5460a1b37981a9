"""A profile resumed in a later session first checks that the stored whole models are still on
the machine's scale (profiler.scale_check), with onnxruntime and SQLite for real; the age and
the scale of the stored rows are moved in the file, as another day would have left them."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from predictor_fixtures import SETTINGS, variants

from lut.schema import CHECKSUM_COLUMN, row_checksum
from lut.store import LutStore
from profiler.base import get_backend
from profiler.loop import profile_models
from profiler.scale_check import META_KEY, MODELS, STALE_AFTER_S

CONFIG_THREADS = 1


def _profile(path, archs) -> None:
    with get_backend("onnxruntime", threads=CONFIG_THREADS) as backend:
        with LutStore.create_or_resume(
            path, backend.config(), backend.device_info(), SETTINGS.identity()
        ) as store:
            profile_models(backend, store, archs, SETTINGS, progress=False)


def _age_and_scale(path, hours: float, factor: float) -> None:
    """Make every stored whole model ``hours`` old and ``factor`` times its latency (every
    statistic, so the rows stay possible, resealed with their checksums)."""
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat(timespec="seconds")
    timings = ("median_ms", "mean_ms", "std_ms", "p10_ms", "p90_ms")
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        for row in map(dict, conn.execute("SELECT rowid, * FROM models").fetchall()):
            row.update({c: row[c] * factor for c in timings if row[c] is not None})
            row["measured_at"] = when
            conn.execute(
                f"UPDATE models SET {', '.join(f'{c} = ?' for c in timings)}, measured_at = ?, "
                f"{CHECKSUM_COLUMN} = ? WHERE rowid = ?",
                (*(row[c] for c in timings), when, row_checksum("models", row), row["rowid"]),
            )


def _checks(path) -> list[dict]:
    with LutStore.open(path, writable=False) as store:
        return store.meta.get(META_KEY, [])


@pytest.fixture(scope="module")
def archs():
    return variants(6)


def test_a_quick_resume_times_nothing_extra(tmp_path, archs):
    path = tmp_path / "a.lut"
    _profile(path, archs[:4])
    _profile(path, archs[:5])  # the stored models are seconds old
    assert _checks(path) == []


def test_a_later_resume_on_another_scale_warns_and_keeps_the_stored_rows(tmp_path, archs, caplog):
    path = tmp_path / "b.lut"
    _profile(path, archs[:4])
    _age_and_scale(path, hours=STALE_AFTER_S / 3600 + 1, factor=10.0)  # a much slower day, stored
    with LutStore.open(path, writable=False) as store:
        frame = store.models_frame()
    stored = dict(zip(frame["arch_key"], frame["median_ms"], strict=True))
    with caplog.at_level("WARNING"):
        _profile(path, archs[:5])
    (check,) = _checks(path)
    assert len(check["keys"]) == MODELS and check["hours_since_newest"] > 1
    lowest, highest = min(stored, key=stored.get), max(stored, key=stored.get)
    assert lowest in check["keys"] and highest in check["keys"]  # spread over the latencies
    # the machine now times them at about a tenth of the stored value; only a load change of
    # 7.5x between the two timings could hide that
    assert check["ratio"] < 0.75
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "read 0." in said and "will not be on one scale with the stored ones" in said
    with LutStore.open(path, writable=False) as store:
        frame = store.models_frame().set_index("arch_key")
    assert all(frame.loc[k, "median_ms"] == v for k, v in stored.items())  # left as they were
    assert len(frame) == 5


def test_nothing_to_time_means_no_check(tmp_path, archs):
    path = tmp_path / "c.lut"
    _profile(path, archs[:3])
    _age_and_scale(path, hours=30, factor=1.0)
    _profile(path, archs[:3])  # every model stored already
    assert _checks(path) == []
