"""The profiling loop's noise handling: jittery rows are re-measured (real timing of real
sleeps), a reference layer that slows down is reported as drift against the run's own start (on
a stated clock: tests/stated_clock.py), failures are named and skipped."""

import random
import time

import pytest
import torch
from stated_clock import StatedClock, install_stated_clock

from lut.spec import LayerSpec
from lut.store import LutStore
from profiler.backends.torch_eager import TorchBackend
from profiler.base import BackendError, Workload
from profiler.loop import REFERENCE_SPEC, ProfileSettings, measure_steady, profile_layers

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
    for c in (8, 16, 24)
]


class Jitter(torch.nn.Module):
    """Sleeps 1 or 6 ms at random on each call: a workload whose spread is large for real
    (with 30 runs, fewer than 2 of either kind has odds of about 1e-7)."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(0)

    def forward(self, x):
        time.sleep(self.rng.choice([0.001, 0.006]))
        return x


def test_jittery_rows_are_measured_again_and_the_steadiest_is_kept():
    settings = ProfileSettings(warmup=1, runs=30, max_attempts=3)  # the default: CI of the median
    with TorchBackend(pin=False) as backend:
        m, attempts = measure_steady(backend, Workload("jitter", Jitter, (1, 4)), settings)
    assert attempts == 3
    assert m.median_ci_rel > 0.05 and m.n == 30


class Ticks(torch.nn.Module):
    """Takes ``ms`` on the stated clock on each call, and no real time."""

    def __init__(self, clock: StatedClock, ms: float) -> None:
        super().__init__()
        self.clock, self.ms = clock, ms

    def forward(self, x=None):
        self.clock.advance(self.ms)
        return x


class SlowingReference(TorchBackend):
    """A torch backend on a stated clock whose reference layer takes 1 ms, and 2 ms once it
    has been timed ``after`` times (a throttled CPU, as the loop sees it); every other
    workload takes 0.5 ms. The drift watch is bookkeeping, so its latencies are stated
    (tests/README.md): real timings at a load of 10 read a doubled workload as 1.3x."""

    name = "torch"

    def __init__(self, clock: StatedClock, after: int) -> None:
        super().__init__(pin=False)
        self.clock, self.after, self.calls = clock, after, 0

    def _runner(self, workload):
        ms = 0.5
        if workload.key == REFERENCE_SPEC.key:
            self.calls += 1
            ms = 2.0 if self.calls > self.after else 1.0
        module = Ticks(self.clock, ms)
        return lambda: module()


def test_reference_drift_is_recorded_in_the_metadata(tmp_path, monkeypatch):
    # the drift watch on its own: the reference is re-timed before the first row and after each
    clock = install_stated_clock(monkeypatch)
    settings = ProfileSettings(
        warmup=3, runs=30, reference_every=1, max_attempts=1, drift_correction=False
    )
    with SlowingReference(clock, after=2) as backend:
        store = LutStore.create(
            tmp_path / "d.lut", backend.config(), backend.device_info(), settings.identity()
        )
        report = profile_layers(backend, store, SPECS, settings, progress=False)
    ref = store.reference_frame()
    assert list(ref.ratio) == [1.0, 1.0, 2.0, 2.0]  # twice the work from the third timing
    assert list(ref.rows_done) == [0, 1, 2, 3]
    assert store.meta["drift_events"] == report.drift
    assert report.drift == [
        {"rows_done": n, "ratio": 2.0, "reference_ms": 2.0, "baseline_ms": 1.0} for n in (2, 3)
    ]
    assert list(store.layers_frame().median_ms) == [0.5] * 3  # rows are not rescaled


class FailsOn(TorchBackend):
    name = "torch"

    def __init__(self, bad_key: str) -> None:
        super().__init__(pin=False)
        self.bad_key = bad_key

    def _runner(self, workload):
        if workload.key == self.bad_key:
            raise RuntimeError("runner crashed")
        return super()._runner(workload)


def test_a_failing_layer_is_named_and_the_rest_are_stored(tmp_path):
    settings = ProfileSettings(warmup=1, runs=5, reference_every=0)
    with FailsOn(SPECS[1].key) as backend:
        store = LutStore.create(
            tmp_path / "f.lut", backend.config(), backend.device_info(), settings.identity()
        )
        report = profile_layers(backend, store, SPECS, settings, progress=False)
    assert list(report.failed) == [SPECS[1].key]
    assert store.layer_keys() == {SPECS[0].key, SPECS[2].key}


def test_systematic_failure_stops_the_run(tmp_path):
    settings = ProfileSettings(  # no drift reference: it would be the first thing to fail
        warmup=1, runs=3, reference_every=0, max_consecutive_failures=2, drift_correction=False
    )

    class AlwaysFails(TorchBackend):
        name = "torch"

        def measure(self, workload, warmup, runs):
            raise BackendError(f"no runner for {workload.key}")

    with AlwaysFails(pin=False) as backend:
        store = LutStore.create(
            tmp_path / "s.lut", backend.config(), backend.device_info(), settings.identity()
        )
        with pytest.raises(BackendError, match="2 workloads failed in a row"):
            profile_layers(backend, store, SPECS, settings, progress=False)


def test_a_resumed_run_measures_drift_from_its_own_start(tmp_path, monkeypatch):
    # yesterday's run timed the reference at 1 ms; today it takes 2 ms from the start. Today's
    # drift is measured against today's first timing, not the file's first: no event today,
    # where measuring against yesterday would make every re-timing a 2x event.
    clock = install_stated_clock(monkeypatch)
    settings = ProfileSettings(
        warmup=3, runs=30, reference_every=1, max_attempts=1, drift_correction=False
    )
    with SlowingReference(clock, after=10**6) as backend:  # never slower: yesterday
        with LutStore.create(
            tmp_path / "r.lut", backend.config(), backend.device_info(), settings.identity()
        ) as store:
            profile_layers(backend, store, SPECS[:1], settings, progress=False)
    with SlowingReference(clock, after=0) as backend:  # always twice the work: today
        with LutStore.open(tmp_path / "r.lut") as store:
            report = profile_layers(backend, store, SPECS, settings, progress=False)
            ref = store.reference_frame()
            events = store.meta.get("drift_events", [])
    assert list(ref.median_ms) == [1.0, 1.0, 2.0, 2.0, 2.0]
    assert list(ref.ratio) == [1.0, 1.0, 2.0, 2.0, 2.0]  # the file's history shows the change
    assert list(ref.rows_done) == [0, 1, 1, 2, 3]  # rows in the file, not restarting at 0
    assert report.drift == [] and events == []
