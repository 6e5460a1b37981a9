"""A damaged LUT: the error names the damage and the recovery, and the recovery works — the
readable rows go into a new LUT (``lutnas lut repair``), profile-device resumes into it and
re-measures the lost rows; ``lutnas lut remove`` drops rows under the writer lock (issue 13)."""

from __future__ import annotations

import re
import shlex
import sqlite3
from pathlib import Path

import pytest

from lut.measurement import Measurement
from lut.store import LutStore
from lutnas.cli.main import main
from lutnas.cli.profile import main as profile_main
from lutnas.errors import LutnasError
from lutnas.filelock import WriterLock
from lutnas.spaces.space import get_space

FAST = ["--runs", "5", "--warmup", "1", "--reference-every", "0", "--no-progress"]
PAGE = 4096


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))


def _fill(path: Path, n: int = 200, create: bool = True) -> dict[str, float]:
    """``n`` layer rows with made-up timings (enough for several pages); their medians."""
    specs = get_space("mnasnet").unique_layers(224)[:n]
    if create:
        LutStore.create(path, {"backend": "made-up", "threads": 1}, {}, {"runs": 3}).close()
    with LutStore.open(path) as store:
        have = store.layer_keys()
        for i, spec in enumerate(s for s in specs if s.key not in have):
            store.put_layer(spec, Measurement.from_samples([1 + i / 100, 1.1 + i / 100], 1))
    return _medians(path)


def _medians(path: Path) -> dict[str, float]:
    with LutStore.open(path, writable=False) as store:
        frame = store.layers_frame()
    return dict(zip(frame["key"], frame["median_ms"], strict=True))


def _pages(path: Path, name: str, kind: str = "leaf") -> list[int]:
    """The pages of a table or index of one kind (leaf, internal; SQLite's dbstat)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        rows = conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ?", (name, kind)
        ).fetchall()
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        conn.close()
    return [r[0] for r in rows]


def _damage(path: Path, page: int) -> bytes:
    """Zero one page in a copy beside ``path``; returns the damaged file's bytes."""
    data = bytearray(path.read_bytes())
    data[(page - 1) * PAGE : page * PAGE] = bytes(PAGE)
    return bytes(data)


def _suggested_repair(message: str) -> list[str]:
    m = re.search(r"lutnas (lut repair \S+ --out \S+?),", message)
    assert m, message
    return shlex.split(m[1])


def test_a_damaged_index_is_named_and_the_suggested_repair_keeps_every_row(tmp_path, capsys):
    path = tmp_path / "a.lut"
    medians = _fill(path)
    page = _pages(path, "sqlite_autoindex_layers_1")[0]
    path.write_bytes(_damage(path, page))
    damaged = path.read_bytes()

    assert main(["lut", "show", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "integrity check failed" in err[0] and "lut repair" in err[0]
    with pytest.raises(LutnasError, match="is damaged: integrity check failed") as info:
        LutStore.open(path)
    command = _suggested_repair(str(info.value))

    assert main(command) == 0
    assert "200 layer rows" in capsys.readouterr().out
    new = Path(command[-1])
    assert _medians(new) == medians  # every row, every value
    assert path.read_bytes() == damaged  # the damaged file is left as it is
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert main(command) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err


def test_a_damaged_table_page_loses_its_rows_and_profile_device_measures_them_again(
    tmp_path, capsys
):
    path = tmp_path / "a.lut"
    profile = ["--arch", "mobilenetv2-1.0", "--resolution", "32", *FAST]
    assert profile_main([*profile, "--out", str(path)]) == 0
    measured = _medians(path)
    _fill(path, create=False)  # more rows, so the table spans several pages
    capsys.readouterr()

    # the first page whose loss takes some of the measured rows with it
    for page in _pages(path, "layers"):
        damaged = tmp_path / "damaged.lut"
        damaged.write_bytes(_damage(path, page))
        with pytest.raises(LutnasError, match="integrity check failed") as info:
            LutStore.open(damaged)
        command = _suggested_repair(str(info.value))
        assert main(command) == 0
        new = Path(command[-1])
        if set(measured) - set(_medians(new)):
            break
        new.unlink()
    else:
        pytest.fail("no page held measured rows")
    out = capsys.readouterr().out
    lost = set(measured) - set(_medians(new))
    assert re.search(r"\d+ rows could not be read: \S+_in\d+x\d+", out)
    assert f"--out {new}" in out

    assert profile_main([*profile, "--out", str(new)]) == 0
    assert f"{len(measured) - len(lost)} already in the file" in capsys.readouterr().out
    assert set(measured) <= set(_medians(new))


def test_remove_drops_rows_under_the_writer_lock(tmp_path, capsys):
    path = tmp_path / "a.lut"
    keys = sorted(_fill(path, n=20))
    assert main(["lut", "remove", str(path), keys[0], keys[1]]) == 0
    assert "removed 2 layer rows" in capsys.readouterr().out
    assert set(_medians(path)) == set(keys[2:])

    assert main(["lut", "remove", str(path), keys[0], keys[2]]) == 2  # all or nothing
    err = capsys.readouterr().err
    assert f"has no row {keys[0]!r}" in err and "nothing was removed" in err
    assert keys[2] in _medians(path)

    with WriterLock(path, "wait"):  # another process profiling into it
        assert main(["lut", "remove", str(path), keys[2]]) == 2
    assert "being written by another process" in capsys.readouterr().err
    assert keys[2] in _medians(path)
