"""The SQLite LUT store: schema, metadata, refusals, merge and export."""

import json
import sqlite3

import pandas as pd
import pytest

from lut.export import export_csv, export_parquet, merge
from lut.measurement import Measurement
from lut.spec import LayerSpec
from lut.store import FORMAT, SCHEMA_VERSION, LutStore
from lutnas import __version__
from lutnas.errors import LutnasError
from lutnas.spaces.named import get_named_arch

CONFIG = {"backend": "onnxruntime", "threads": 1, "device": "host:test", "onnxruntime": "1.0"}
DEVICE = {"kind": "host", "cpu_model": "test"}
SETTINGS = {"warmup": 10, "runs": 50}
A = LayerSpec(
    op="mbconv",
    kernel=3,
    expansion=6,
    se_ratio=0.0,
    skip="idskip",
    act="relu",
    cin=24,
    cout=24,
    stride=1,
    input_h=56,
    input_w=56,
)
B = LayerSpec(
    op="conv",
    kernel=5,
    expansion=1,
    se_ratio=0.25,
    skip="poolskip",
    act="relu",
    cin=24,
    cout=32,
    stride=2,
    input_h=56,
    input_w=56,
)


def m(median, spread=0.01):
    return Measurement.from_samples([median * (1 + spread * d) for d in (-1, -0.5, 0, 0.5, 1)], 10)


def new_store(path, config=CONFIG):
    return LutStore.create(path, config, DEVICE, SETTINGS)


def small_lut(path):
    """A LUT of two layers (A at 1 ms, B at 2 ms) and one whole model (20 ms)."""
    with new_store(path) as s:
        s.put_layer(A, m(1.0))
        s.put_layer(B, m(2.0))
        s.put_model(get_named_arch("mobilenetv2-1.0"), m(20.0))
    return path


def test_metadata_schema(tmp_path):
    with new_store(tmp_path / "a.lut") as s:
        meta = s.meta
    required = {
        "format",
        "schema_version",
        "tool_version",
        "created_at",
        "backend_config",
        "device",
        "settings",
    }
    assert required <= set(meta)
    assert meta["format"] == FORMAT and meta["schema_version"] == SCHEMA_VERSION
    assert meta["tool_version"] == __version__
    # every LUT records its precision; a config without one is fp32 (lut.identity)
    assert meta["backend_config"] == {"precision": "fp32", **CONFIG} and meta["device"] == DEVICE
    assert meta["settings"] == SETTINGS


def test_rows_are_durable_and_replace_by_key(tmp_path):
    path = tmp_path / "a.lut"
    s = new_store(path)
    s.put_layer(A, m(1.0))
    s.put_layer(B, m(2.0))
    s.put_layer(A, m(1.5), attempts=2)
    # another connection sees the rows without close(): each put is committed
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 2
    s.close()
    with LutStore.open(path) as s:
        assert s.latency_ms([A.key, B.key, "missing"]) == {A.key: 1.5, B.key: 2.0}
        row = s.layers_frame().set_index("key").loc[A.key]
        assert row.attempts == 2 and row.n == 5 and row.warmup == 10
        assert row.p10_ms <= row.median_ms <= row.p90_ms


def test_models_and_reference(tmp_path):
    arch = get_named_arch("mnasnet-a1")
    with new_store(tmp_path / "a.lut") as s:
        s.put_model(arch, m(20.0), name="mnasnet-a1")
        assert s.model_keys() == {arch.key}
        assert s.add_reference(A.key, 1.0, 0) == 1.0
        assert s.add_reference(A.key, 1.2, 50) == pytest.approx(1.2)
        frame = s.models_frame()
        assert frame.loc[0, "name"] == "mnasnet-a1" and json.loads(frame.loc[0, "arch_json"])


def test_not_a_lut_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.lut"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LutnasError, match="not a lutnas LUT"):
        LutStore.open(junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    with pytest.raises(LutnasError, match="not a lutnas LUT"):
        LutStore.open(other)
    with pytest.raises(LutnasError, match="no LUT file"):
        LutStore.open(tmp_path / "missing.lut")


def test_truncated_lut_is_a_clear_error(tmp_path):
    path = tmp_path / "a.lut"
    with new_store(path) as s:
        for i in range(200):
            s.put_layer(
                LayerSpec(
                    op="conv",
                    kernel=3,
                    expansion=1,
                    se_ratio=0.0,
                    skip="noskip",
                    act="relu",
                    cin=8,
                    cout=8 + i,
                    stride=1,
                    input_h=8,
                    input_w=8,
                ),
                m(1.0),
            )
    data = path.read_bytes()
    path.write_bytes(data[:1000] + b"\0" * 50 + data[1050 : len(data) // 2])
    # its pages still hold a LUT's rows: named damaged, with the repair that recovers them
    with pytest.raises(LutnasError, match="is damaged: .*lutnas lut repair"):
        LutStore.open(path).layers_frame()


def test_resume_refuses_another_configuration(tmp_path):
    path = tmp_path / "a.lut"
    new_store(path).close()
    with pytest.raises(LutnasError, match="another backend configuration.*threads"):
        LutStore.create_or_resume(path, {**CONFIG, "threads": 4}, DEVICE, SETTINGS)
    with pytest.raises(LutnasError, match="other settings.*runs"):
        LutStore.create_or_resume(path, CONFIG, DEVICE, {**SETTINGS, "runs": 20})
    with pytest.raises(LutnasError, match="resuming is off"):
        LutStore.create_or_resume(path, CONFIG, DEVICE, SETTINGS, resume=False)
    with pytest.raises(LutnasError, match="already exists"):
        LutStore.create(path, CONFIG, DEVICE, SETTINGS)
    LutStore.create_or_resume(path, CONFIG, DEVICE, SETTINGS).close()


def test_merge_keeps_the_steadiest_row_and_refuses_mixed_configs(tmp_path):
    a, b, c = tmp_path / "a.lut", tmp_path / "b.lut", tmp_path / "c.lut"
    with new_store(a) as s:
        s.put_layer(A, m(1.0, spread=0.2))
    with new_store(b) as s:
        s.put_layer(A, m(1.1, spread=0.01))
        s.put_layer(B, m(2.0))
        s.put_model(get_named_arch("mnasnet-a1"), m(20.0))
    counts = merge(tmp_path / "out.lut", [a, b])
    assert counts == {
        **{"layers": 2, "conflicts": 1, "models": 1},
        **{"transferred": 0, "transferred_conflicts": 0},  # neither file has transferred rows
    }
    with LutStore.open(tmp_path / "out.lut") as s:
        assert s.latency_ms([A.key, B.key]) == pytest.approx({A.key: 1.1, B.key: 2.0})
        assert s.backend_config == {"precision": "fp32", **CONFIG}
    new_store(c, {**CONFIG, "backend": "torch"}).close()
    with pytest.raises(LutnasError, match="different backend configurations"):
        merge(tmp_path / "out2.lut", [a, c])


def test_export_csv_and_parquet(tmp_path):
    with LutStore.open(small_lut(tmp_path / "a.lut"), writable=False) as s:
        written = export_csv(s, tmp_path / "t.csv") + export_parquet(s, tmp_path / "t.parquet")
    assert {p.name for p in written} == {
        "t.csv",
        "t.models.csv",
        "t.meta.json",
        "t.parquet",
        "t.models.parquet",
    }
    frame = pd.read_csv(tmp_path / "t.csv")
    assert sorted(frame.key) == sorted([A.key, B.key])
    assert json.loads((tmp_path / "t.meta.json").read_text())["backend_config"] == {
        "precision": "fp32",
        **CONFIG,
    }
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "t.parquet")
    assert json.loads(table.schema.metadata[b"lutnas"])["settings"] == SETTINGS
    assert sorted(table.column("key").to_pylist()) == sorted([A.key, B.key])
