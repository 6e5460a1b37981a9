"""Drift correction (profiler.reference): each whole model is timed in turns with a reference
model and rescaled to the speed the machine had at calibration, so a machine that slows down
mid-run still gives the same numbers.

These tests are about the correction's bookkeeping, not about measuring, so the latencies are
stated: the "machine" runs every workload through the real backend and timing loop
(profiler.timing), whose clock is a stated one that each call advances by its workload's time ×
the machine's slowdown. Real sleeps were used before; at a load of 11 a 2 ms sleep overslept
enough to fail them (tests/README.md)."""

import pytest
import torch
from stated_clock import StatedClock, install_stated_clock

from lut.export import merge
from lut.measurement import Measurement
from lut.spec import LayerSpec
from lut.store import SCHEMA_VERSION, LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from profiler.backends.torch_eager import TorchBackend
from profiler.base import Workload
from profiler.loop import ProfileSettings, profile_layers, profile_models, reference_for
from profiler.reference import reference_workload
from profiler.timing import time_interleaved

ARCHS = sample_archs(get_space("mnasnet"), 3, seed=0, resolutions=(224,))
SPECS = [
    LayerSpec(
        op="dconv",
        kernel=3,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=16,
        cout=c,
        stride=1,
        input_h=14,
        input_w=14,
    )
    for c in (8, 16)
]
SETTINGS = ProfileSettings(warmup=2, runs=20, reference_every=0, max_attempts=1)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> StatedClock:
    stated = install_stated_clock(monkeypatch)
    SlowingMachine.clock = stated
    return stated


class Sleeper(torch.nn.Module):
    """Takes ``ms`` × the backend's current slowdown on the stated clock on each call."""

    def __init__(self, backend, ms: float) -> None:
        super().__init__()
        self.backend, self.ms = backend, ms

    def forward(self, x):
        self.backend.clock.advance(self.ms * self.backend.slowdown)
        return x


class SlowingMachine(TorchBackend):
    """A torch backend on a "machine" whose speed is ``slowdown``: the reference model takes
    2 ms and every other workload 4 ms, both times ``slowdown``."""

    name = "torch"
    clock: StatedClock  # set by the ``clock`` fixture

    def __init__(self) -> None:
        super().__init__(pin=False)
        self.slowdown = 1.0

    def _runner(self, workload):
        ms = 2.0 if workload.key == reference_workload().key else 4.0
        module = Sleeper(self, ms)
        return lambda: module(None)


def new_store(path, backend, settings=SETTINGS):
    return LutStore.create(path, backend.config(), backend.device_info(), settings.identity())


def test_interleaved_timing_takes_turns_with_a_rewarm_run_each():
    calls = []
    m, ref = time_interleaved(lambda: calls.append("w"), lambda: calls.append("r"), 2, 5, block=3)
    # warm-up, then turns of one untimed + two timed runs, until 5 timed runs each
    assert "".join(calls) == "wwrr" + "www" + "rrr" + "www" + "rrr" + "ww" + "rr"
    assert (m.n, ref.n, m.warmup) == (5, 5, 2)
    with pytest.raises(ValueError, match="block"):
        time_interleaved(lambda: None, lambda: None, 0, 1, block=1)


def test_scaling_a_measurement_keeps_the_raw_median_recoverable():
    m = Measurement.from_samples([1.0, 2.0, 3.0], 5).scaled(0.5, reference_ms=4.0)
    assert (m.median_ms, m.p10_ms, m.reference_ms, m.drift_factor) == (1.0, 0.6, 4.0, 0.5)
    assert m.median_ms / m.drift_factor == 2.0
    with pytest.raises(ValueError, match="finite and positive"):
        m.scaled(0.0)


def test_a_machine_slowing_down_mid_run_gives_the_same_numbers(tmp_path):
    with SlowingMachine() as backend:
        store = new_store(tmp_path / "d.lut", backend)
        reference = reference_for(backend, store, SETTINGS)
        assert reference.nominal_ms == pytest.approx(2.0)
        profile_models(backend, store, ARCHS[:1], SETTINGS, progress=False)
        backend.slowdown = 2.0  # the machine now runs at half speed
        profile_models(backend, store, ARCHS[1:], SETTINGS, progress=False)
        profile_layers(backend, store, SPECS, SETTINGS, progress=False)
    rows = store.models_frame().set_index("arch_key")
    raw = rows.median_ms / rows.drift_factor
    assert raw[ARCHS[2].key] == pytest.approx(8.0)  # really twice as slow ...
    assert raw[ARCHS[2].key] > 1.6 * raw[ARCHS[0].key]
    for arch in ARCHS:  # ... yet every model reads 4 ms at the calibrated speed
        assert rows.median_ms[arch.key] == pytest.approx(4.0)
        assert rows.reference_ms[arch.key] > 0
    assert store.meta["drift_reference"]["key"] == reference_workload().key
    layers = store.layers_frame()  # layers are timed back to back, never rescaled
    assert layers.drift_factor.isna().all() and (layers.median_ms == 8.0).all()


def test_resuming_reuses_the_calibration(tmp_path):
    path = tmp_path / "r.lut"
    with SlowingMachine() as backend:
        with new_store(path, backend) as store:
            profile_models(backend, store, ARCHS[:1], SETTINGS, progress=False)
            nominal = store.meta["drift_reference"]["nominal_ms"]
        backend.slowdown = 2.0  # another day, a slower machine: not calibrated again
        with LutStore.create_or_resume(
            path, backend.config(), backend.device_info(), SETTINGS.identity()
        ) as store:
            profile_models(backend, store, ARCHS[1:], SETTINGS, progress=False)
            assert store.meta["drift_reference"]["nominal_ms"] == nominal
            assert store.models_frame().median_ms.eq(4.0).all()


def test_a_lut_without_correction_cannot_be_resumed_with_it(tmp_path):
    path = tmp_path / "n.lut"
    off = ProfileSettings(warmup=2, runs=20, drift_correction=False)
    with SlowingMachine() as backend:
        new_store(path, backend, off).close()
        with pytest.raises(LutnasError, match="drift_correction"):
            LutStore.create_or_resume(
                path, backend.config(), backend.device_info(), SETTINGS.identity()
            )


def test_a_backend_that_cannot_interleave_is_a_clear_error(tmp_path):
    class Phone(TorchBackend):
        name = "torch"
        interleaves_reference = False

    with Phone(pin=False) as backend:
        store = new_store(tmp_path / "p.lut", backend)
        profile_layers(backend, store, SPECS, SETTINGS, progress=False)  # layers: no reference
        with pytest.raises(LutnasError, match="--no-drift-correction"):
            profile_models(backend, store, ARCHS, SETTINGS, progress=False)


def test_merging_brings_whole_models_to_one_calibration(tmp_path):
    paths = [tmp_path / "a.lut", tmp_path / "b.lut"]
    with SlowingMachine() as backend:
        for path, arch, slowdown in zip(paths, ARCHS, (1.0, 1.5), strict=False):
            backend.slowdown = slowdown  # b was calibrated on a slower day
            with new_store(path, backend) as store:
                profile_models(backend, store, [arch], SETTINGS, progress=False)
    with LutStore.open(paths[1]) as b:
        model_b = b.models_frame().median_ms.iloc[0]
        nominal_b = b.meta["drift_reference"]["nominal_ms"]
    merge(tmp_path / "m.lut", paths)
    with LutStore.open(tmp_path / "m.lut") as out:
        nominal = out.meta["drift_reference"]["nominal_ms"]
        rows = out.models_frame().set_index("arch_key").median_ms
    assert rows[ARCHS[1].key] == pytest.approx(model_b * nominal / nominal_b)
    assert rows[ARCHS[0].key] == pytest.approx(rows[ARCHS[1].key])


def test_an_old_schema_file_gains_the_columns_and_resumes(tmp_path):
    path = tmp_path / "old.lut"
    old = {"warmup": 2, "runs": 20}  # settings as written before drift correction
    off = ProfileSettings(warmup=2, runs=20, drift_correction=False)
    with SlowingMachine() as backend:
        with LutStore.create(path, backend.config(), backend.device_info(), old) as store:
            profile_layers(backend, store, SPECS[:1], off, progress=False)
            conn = store._conn
            for table in ("layers", "models"):
                for column in ("reference_ms", "drift_factor"):
                    conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
            conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        with LutStore.create_or_resume(
            path, backend.config(), backend.device_info(), off.identity()
        ) as store:
            assert store.meta["schema_version"] == SCHEMA_VERSION
            profile_layers(backend, store, SPECS[1:2], off, progress=False)
            assert len(store.layers_frame()) == 2
            assert store.layers_frame().reference_ms.isna().all()


def test_workload_errors_name_the_workload():
    class Broken(TorchBackend):
        name = "torch"

        def _runner(self, workload):
            raise RuntimeError("no such kernel")

    with Broken(pin=False) as backend:
        w = Workload("layer-x", lambda: None, (1, 1))
        with pytest.raises(LutnasError, match="layer-x.*no such kernel"):
            backend.measure_against(w, w, 1, 1)
