"""Transfer end to end: a source LUT timed with torch eager, a target timed with ONNX Runtime on a
chosen sample of its layers and the rest transferred (``profile-device --transfer-from``), kept
apart from measurements in the file, in ``lut show``, ``fit``, ``predict``, a later full profile
and ``lut merge`` (more of merge, repair, export and checksums: test_transferred_rows.py);
and on the emulated phone. Real backends, real files; the assertions are on
structure (which rows, how many, marked how), never on measured magnitudes."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest
from space_fixtures import QUICK_PROFILE, TINY, write_space

from lut.store import LutStore
from lut.transferred import transferred_count, transferred_frame, transferred_ms
from lutnas.cli.main import main as lutnas_main
from lutnas.cli.profile import main as profile_main
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.spacefile import load_space
from predictor.transfer import LayerMap, random_sample, sample_order
from predictor.transfer.layer_map import SHARED

RES = ["--resolution", "32", "--resolution", "48"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A full torch-eager LUT of the tiny space at 32 and 48 (29 layers) and the space file."""
    d = tmp_path_factory.mktemp("transfer")
    space = write_space(d, TINY)
    out = d / "torch.lut"
    mp = pytest.MonkeyPatch()
    mp.setenv("LUTNAS_CACHE_DIR", str(d / "cache"))
    try:
        argv = ["--backend", "torch", "--space", str(space), *RES, *QUICK_PROFILE]
        assert profile_main([*argv, "--out", str(out)]) == 0
    finally:
        mp.undo()
    return out, space


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))


def transfer(source, out, k, *extra):
    src, space = source
    argv = ["--space", str(space), *RES, *QUICK_PROFILE, "--out", str(out)]
    return profile_main([*argv, "--transfer-from", str(src), "--sample", str(k), *extra])


def table(space_path):
    space = load_space(str(space_path))
    return list({s.key: s for r in (32, 48) for s in space.unique_layers(r)}.values())


def measured_at(path):
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, measured_at FROM layers"))
    finally:
        con.close()


def test_only_the_sample_is_timed_and_the_rest_is_marked_transferred(source, tmp_path, capsys):
    out = tmp_path / "ort.lut"
    assert transfer(source, out, 12, "--whole-models", "3") == 0
    printed = capsys.readouterr().out
    assert "profiling 12 layers" in printed  # the whole models' layers are transferred, too
    assert "17 rows transferred" in printed and "12 layers measured, 17 transferred" in printed
    with LutStore.open(source[0], writable=False) as src:
        source_ms = src.latency_ms(s.key for s in table(source[1]))
    specs = table(source[1])
    chosen = sample_order(specs, [source_ms[s.key] for s in specs], 12)
    with LutStore.open(out, writable=False) as store:
        measured = store.layer_keys()
        moved = transferred_frame(store)
        assert measured == {s.key for s in chosen}  # the sampler's first 12, nothing else
        assert set(moved["key"]).isdisjoint(measured)
        assert measured | set(moved["key"]) == {s.key for s in specs}
        assert (moved["low_ms"] <= moved["median_ms"]).all()
        assert (moved["median_ms"] <= moved["high_ms"]).all()
        assert set(moved["map_part"]) <= {SHARED, *(s.op for s in specs)}
        meta = store.meta["transfer"]
        assert meta["sample"]["pairs"] == 12 and meta["source"]["backend_config"]["backend"] == (
            "torch"
        )
        assert len(store.model_keys()) == 3
    assert lutnas_main(["lut", "show", str(out), "--space", str(source[1])]) == 0
    shown = capsys.readouterr().out
    assert "layers: 12; whole models: 3" in shown and "transferred: 17 rows from" in shown


def test_a_bigger_sample_resumes_times_only_new_layers_and_refits(source, tmp_path, capsys):
    out = tmp_path / "ort.lut"
    assert transfer(source, out, 10) == 0
    first = measured_at(out)
    with LutStore.edit(out) as store:  # as if the run had stopped before its last 3 layers
        store.remove_layers(sorted(first)[:3])
    capsys.readouterr()
    assert transfer(source, out, 16) == 0
    printed = capsys.readouterr().out
    assert "layers: 9 measured" in printed and "7 already in the file" in printed
    after = measured_at(out)
    assert len(after) == 16
    kept = set(sorted(first)[3:])
    assert {k: after[k] for k in kept} == {k: first[k] for k in kept}  # not timed again
    with LutStore.open(out, writable=False) as store:
        assert store.meta["transfer"]["sample"]["pairs"] == 16
        assert transferred_count(store) == 29 - 16


def test_fit_and_predict_say_how_much_rests_on_transferred_rows(source, tmp_path, capsys):
    out, pred = tmp_path / "ort.lut", tmp_path / "ort.predictor"
    assert transfer(source, out, 12, "--whole-models", "5") == 0
    assert lutnas_main(["fit", "--lut", str(out), "--out", str(pred)]) == 0
    assert "17 of the LUT's 29 rows are transferred from" in capsys.readouterr().out
    from predictor import LatencyPredictor

    saved = LatencyPredictor.load(pred).transferred_keys  # kept in the predictor directory
    with LutStore.open(out, writable=False) as store:
        moved = transferred_ms(store)
    assert set(saved) == set(moved)
    # which 12 layers are timed follows the source's timings, so the network predicted is one
    # with transferred rows (a named one may have been timed whole)
    archs = sample_archs(load_space(str(source[1])), 40, seed=0, resolutions=(32,))
    arch = next(a for a in archs if any(s.key in moved for s in a.layers()))
    (tmp_path / "arch.json").write_text(arch.to_json())
    argv = ["predict", "--predictor", str(pred), "--arch-json", str(tmp_path / "arch.json")]
    assert lutnas_main([*argv, "--json"]) == 0
    p = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    layers = [s.key for s in arch.layers()]
    assert set(p["transferred_keys"]) == {k for k in layers if k in moved} != set()
    with LutStore.open(out, writable=False) as store:
        rows = {**moved, **store.latency_ms(moved.keys() | store.layer_keys())}
    share = sum(rows[k] for k in layers if k in moved) / sum(rows[k] for k in layers)
    assert math.isclose(p["transferred_share"], share, rel_tol=1e-9)


def test_a_full_profile_and_merge_keep_measurements_over_transferred_rows(source, tmp_path, capsys):
    out = tmp_path / "ort.lut"
    assert transfer(source, out, 8) == 0
    full = tmp_path / "full.lut"  # a full LUT of the same backend and settings
    argv = ["--space", str(source[1]), *RES, *QUICK_PROFILE]
    assert profile_main([*argv, "--out", str(full)]) == 0
    capsys.readouterr()
    assert lutnas_main(["lut", "merge", str(out), str(full), "--out", str(tmp_path / "m.lut")]) == 0
    assert "transferred rows" not in capsys.readouterr().out  # all 21 measured in full.lut
    with LutStore.open(tmp_path / "m.lut", writable=False) as merged:
        assert merged.layer_count() == 29 and transferred_count(merged) == 0
    assert profile_main([*argv, "--out", str(out)]) == 0  # the same file, profiled fully now
    with LutStore.open(out, writable=False) as store:
        assert store.layer_count() == 29
        assert transferred_count(store) == 0  # every transferred row is hidden by a measurement
        assert transferred_ms(store) == {}


def test_another_source_is_refused_before_anything_is_timed(source, tmp_path, capsys):
    out = tmp_path / "ort.lut"
    assert transfer(source, out, 6) == 0
    other = tmp_path / "other.lut"
    other.write_bytes(source[0].read_bytes())
    con = sqlite3.connect(other)
    with con:
        row = con.execute("SELECT value FROM meta WHERE key='device'").fetchone()
        device = {**json.loads(row[0]), "cpu_model": "another phone"}
        con.execute("UPDATE meta SET value=? WHERE key='device'", (json.dumps(device),))
    con.close()
    before = measured_at(out)
    capsys.readouterr()
    assert transfer((other, source[1]), out, 10) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "another LUT" in err and "cpu_model" in err
    assert measured_at(out) == before


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--sample", "5"], "give --transfer-from too"),
        (["--transfer-from", "x.lut"], "--transfer-from needs --sample K"),
        (["--transfer-from", "x.lut", "--sample", "5", "--limit", "3"], "drop --limit"),
        (["--transfer-from", "o.lut", "--sample", "5", "--out", "o.lut"], "the --out file"),
        (["--transfer-from", "missing.lut", "--sample", "5"], "no LUT file at missing.lut"),
    ],
)
def test_bad_transfer_options_get_one_error_line(argv, says, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert profile_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and says in err and "Traceback" not in err


def _table_with_ms(space_path, seed=0):
    """The tiny space's table with made-up source and target times: a per-kind factor that
    bends with size (what the map is built to learn)."""
    specs = table(space_path)
    rng = np.random.default_rng(seed)
    factor = {"stem": 0.5, "mbconv": 2.0, "head": 1.5, "fc": 0.8}
    src = rng.uniform(0.05, 2.0, len(specs))
    tgt = np.array([factor[s.op] for s in specs]) * src**0.9 * rng.lognormal(0, 0.02, len(specs))
    return specs, src, tgt


def test_the_sample_order_covers_every_kind_first_and_extends_by_prefix(source):
    specs, src, _ = _table_with_ms(source[1])
    order = sample_order(specs, src)
    assert sorted(s.key for s in order) == sorted(s.key for s in specs)
    kinds = {s.op for s in specs}
    assert {s.op for s in order[: len(kinds) + 4]} == kinds
    for k in (3, 10, 20):
        assert [s.key for s in sample_order(specs, src, k)] == [s.key for s in order[:k]]
    assert len(random_sample(specs, 10)) == 10


def test_the_map_learns_per_kind_factors_and_shrinks_to_one_with_few_pairs(source):
    specs, src, tgt = _table_with_ms(source[1])
    fitted = LayerMap.fit(specs, src, tgt)
    moved = fitted.move(specs, src)
    err = np.abs(np.log(moved.median_ms / tgt))
    one_factor = np.abs(np.log(src * np.exp(np.median(np.log(tgt / src))) / tgt))
    assert err.mean() < one_factor.mean() / 3  # per-kind terms beat one factor on this data
    assert np.all(moved.low_ms <= moved.median_ms) and np.all(moved.median_ms <= moved.high_ms)
    again = LayerMap.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert np.allclose(again.move(specs, src).median_ms, moved.median_ms)
    two = LayerMap.fit(specs[:2], src[:2], tgt[:2])  # too few pairs: one factor
    ratio = two.move(specs, src).median_ms / src
    assert np.allclose(ratio, ratio[0]) and set(two.move(specs, src).parts) == {SHARED}


@pytest.mark.adb
def test_transfer_onto_the_emulated_phone(source, phone, benchmark_model_runner, tmp_path, capsys):
    out = tmp_path / "phone.lut"
    adb = ["--backend", "adb", "--runner", str(benchmark_model_runner), "--cv-threshold", "100"]
    assert transfer(source, out, 6, *adb, "--whole-models", "2") == 0
    printed = capsys.readouterr().out
    assert "profiling 6 layers" in printed and "23 rows transferred" in printed
    with LutStore.open(out, writable=False) as store:
        assert store.backend_config["backend"] == "adb"
        assert store.layer_count() == 6 and transferred_count(store) == 23
        assert len(store.model_keys()) == 2
    assert transfer(source, out, 9, *adb) == 0  # resumes: times 3 more, refits
    assert "layers: 3 measured" in capsys.readouterr().out
    assert phone.files() == []
