"""Which exporter makes a LUT's ONNX files, and that a LUT begun with the TorchScript exporter
goes on with it: its backend config (and so its cache file names and numbers) stays the one it
was measured with, on the host (ONNX Runtime) and on the emulated phone (onnxruntime_perf_test).
Real LUT files, real exports, real ONNX Runtime sessions; no timing figure is asserted."""

from __future__ import annotations

import onnx
import pytest

from lut.export import SAME_GRAPH_EXPORTERS, merge
from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.space import get_space
from profiler.backends.onnxruntime import OnnxRuntimeBackend
from profiler.base import host_backend
from profiler.export import (
    EXPORTER,
    ONNX_EXPORTERS,
    ONNX_WRITER_VERSION,
    TORCHSCRIPT,
    export_settings,
    onnx_path,
    recorded_exporter,
)
from profiler.loop import ProfileSettings, profile_layers
from profiler.onnxwrite import PRODUCER
from profiler.workloads import layer_workload

SETTINGS = ProfileSettings(
    warmup=1, runs=3, reference_every=0, max_attempts=1, drift_correction=False, export_workers=0
)
SPECS = get_space("mnasnet").unique_layers(32)[:4]
# what every ONNX Runtime LUT before lutnas's writer recorded of its exporter
OLD_FIELDS = {"exporter": "torchscript", "opset": 17}


def _producers(cache) -> dict[str, str]:
    return {p.name: onnx.load(p).producer_name for p in sorted(cache.glob("*.onnx"))}


def test_new_luts_record_lutnas_writer_and_its_version():
    config = OnnxRuntimeBackend(pin=False).config()
    assert config["exporter"] == EXPORTER == "lutnas-onnx"
    assert config["onnx_writer_version"] == ONNX_WRITER_VERSION
    # the TorchScript exporter's settings are exactly what older LUTs recorded
    old = export_settings(TORCHSCRIPT)
    assert {k: old[k] for k in OLD_FIELDS} == OLD_FIELDS and set(old) == {*OLD_FIELDS, "torch"}
    with pytest.raises(ValueError, match="ONNX exporter"):
        OnnxRuntimeBackend(exporter="dynamo")


def test_the_exporter_is_in_the_cache_file_name(tmp_path):
    workload = layer_workload(SPECS[0])
    direct = onnx_path(workload, tmp_path)
    old = onnx_path(workload, tmp_path, TORCHSCRIPT)
    assert direct != old
    assert _producers(tmp_path) == {direct.name: PRODUCER, old.name: "pytorch"}


def test_a_lut_begun_with_the_torchscript_exporter_resumes_with_it(tmp_path):
    lut, cache = tmp_path / "old.lut", tmp_path / "cache"
    with OnnxRuntimeBackend(pin=False, cache_dir=cache, exporter=TORCHSCRIPT) as old:
        store = old.open_lut(lut, SETTINGS.identity())  # as the previous release made it
        profile_layers(old, store, SPECS[:2], SETTINGS, progress=False)
        store.close()
    first_files = _producers(cache)
    assert len(first_files) == 2 and set(first_files.values()) == {"pytorch"}
    with LutStore.open(lut) as store:
        old_config = store.backend_config
    assert recorded_exporter(lut) == TORCHSCRIPT and recorded_exporter(lut, resume=False) is None

    with OnnxRuntimeBackend(pin=False, cache_dir=cache) as new:  # this release's default
        assert new.config()["exporter"] == EXPORTER
        store = new.open_lut(lut, SETTINGS.identity())  # resumed, not refused
        assert new.config() == old_config == store.backend_config
        report = profile_layers(new, store, SPECS, SETTINGS, progress=False)
        store.close()
    assert report.measured == 2 and not report.failed
    files = _producers(cache)
    assert len(files) == 4 and set(files.values()) == {"pytorch"}  # the same exporter's files
    assert set(first_files) <= set(files)  # the first two layers' files were used again

    # tools that re-time or measure for such a LUT configure the backend from its config
    with LutStore.open(lut) as store:
        assert host_backend(store.backend_config).config() == store.backend_config


def test_a_lut_begun_with_lutnas_writer_goes_on_with_it(tmp_path):
    lut, cache = tmp_path / "new.lut", tmp_path / "cache"
    with OnnxRuntimeBackend(pin=False, cache_dir=cache) as backend:
        with backend.open_lut(lut, SETTINGS.identity()) as store:
            profile_layers(backend, store, SPECS[:1], SETTINGS, progress=False)
            assert store.backend_config["exporter"] == EXPORTER
    assert set(_producers(cache).values()) == {PRODUCER}
    # with resuming off, the file is refused as before, whatever its exporter
    with OnnxRuntimeBackend(pin=False, cache_dir=cache, exporter=TORCHSCRIPT) as backend:
        with pytest.raises(LutnasError, match="already exists"):
            backend.open_lut(lut, SETTINGS.identity(), resume=False)
        store = backend.open_lut(lut, SETTINGS.identity())  # resumed with the LUT's own
        assert backend.config()["exporter"] == EXPORTER
        store.close()


def test_luts_of_either_exporter_merge_and_other_settings_do_not(tmp_path):
    # lut.export knows which exporters write one graph without importing profiler
    assert SAME_GRAPH_EXPORTERS == set(ONNX_EXPORTERS)
    luts = {}
    for exporter, specs, optimization in [
        (TORCHSCRIPT, SPECS[:2], "all"),
        (EXPORTER, SPECS[1:3], "all"),
        (EXPORTER, SPECS[3:], "basic"),
    ]:
        lut = luts[exporter, optimization] = tmp_path / f"{exporter}-{optimization}.lut"
        backend = OnnxRuntimeBackend(pin=False, exporter=exporter, optimization=optimization)
        with backend, backend.open_lut(lut, SETTINGS.identity()) as store:
            profile_layers(backend, store, specs, SETTINGS, progress=False)
    old, new, basic = luts.values()

    counts = merge(tmp_path / "merged.lut", [new, old])
    assert (counts["layers"], counts["conflicts"]) == (3, 1)  # SPECS[1] timed in both
    with LutStore.open(tmp_path / "merged.lut") as merged, LutStore.open(new) as first:
        assert merged.backend_config == first.backend_config  # the first input's
        assert merged.layer_keys() == {s.key for s in SPECS[:3]}
        assert merged.meta["merged_onnx_exporters"] == sorted([EXPORTER, TORCHSCRIPT])
    # into an existing file, its own configuration stands
    merge(old, [new])
    with LutStore.open(old) as extended:
        assert extended.backend_config["exporter"] == TORCHSCRIPT
        assert extended.layer_keys() == {s.key for s in SPECS[:3]}
    # another graph optimisation measures something else: refused, the field named
    with pytest.raises(LutnasError, match="graph_optimization.*would mix numbers"):
        merge(tmp_path / "mixed.lut", [old, basic])
    assert not (tmp_path / "mixed.lut").exists()


@pytest.mark.adb
def test_a_phone_lut_begun_with_the_torchscript_exporter_resumes_with_it(
    phone, perf_test_runner, tmp_path
):
    from profiler.backends.adb import AdbBackend

    lut, cache = tmp_path / "phone.lut", tmp_path / "cache"
    options = {"runner": perf_test_runner, "cache_dir": cache}
    with AdbBackend(**options, exporter=TORCHSCRIPT) as old:
        store = old.open_lut(lut, SETTINGS.identity())
        profile_layers(old, store, SPECS[:1], SETTINGS, progress=False)
        store.close()
    with AdbBackend(**options) as new:
        assert new.config()["exporter"] == EXPORTER
        store = new.open_lut(lut, SETTINGS.identity())
        assert new.config()["exporter"] == TORCHSCRIPT == store.backend_config["exporter"]
        report = profile_layers(new, store, SPECS[:2], SETTINGS, progress=False)
        store.close()
    assert report.measured == 1 and not report.failed
    assert set(_producers(cache).values()) == {"pytorch"}
