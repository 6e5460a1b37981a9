"""The profiling loop's noise handling, with real timing: jittery rows are re-measured, a
reference layer that really slows down is reported as drift, failures are named and skipped."""

import random
import time

import pytest
import torch

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


class SlowingReference(TorchBackend):
    """A torch backend whose reference layer really does twice the work after ``after`` calls
    (the module runs twice in a row), as a throttled CPU would look to the loop."""

    name = "torch"

    def __init__(self, after: int) -> None:
        super().__init__(pin=False)
        self.after, self.calls = after, 0

    def measure(self, workload, warmup, runs):
        if workload.key == REFERENCE_SPEC.key:
            self.calls += 1
            if self.calls > self.after:
                build = workload.build
                workload = Workload(
                    workload.key,
                    lambda: torch.nn.Sequential(build(), build()),
                    workload.input_shape,
                )
        return super().measure(workload, warmup, runs)


def test_reference_drift_is_recorded_in_the_metadata(tmp_path):
    # the drift watch on its own (it times the reference with measure(), overridden above)
    settings = ProfileSettings(
        warmup=3, runs=30, reference_every=1, max_attempts=1, drift_correction=False
    )
    with SlowingReference(after=2) as backend:
        store = LutStore.create(
            tmp_path / "d.lut", backend.config(), backend.device_info(), settings.identity()
        )
        report = profile_layers(backend, store, SPECS, settings, progress=False)
    ref = store.reference_frame()
    assert len(ref) == 4  # before the first row, then after each of the 3 rows
    assert ref.ratio.iloc[-1] > 1.5  # twice the work is seen as such
    assert store.meta["drift_events"] == report.drift
    # the doubled reference (from the third timing, after 2 rows) is reported; on a busy
    # machine plain noise may add an earlier event, which is also what the check is for
    assert [e for e in report.drift if e["rows_done"] >= 2 and e["ratio"] > 1.5]


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


def test_a_resumed_run_measures_drift_from_its_own_start(tmp_path):
    # yesterday's run timed the reference at normal speed; today the reference does twice the
    # work. Today's drift is measured against today's first timing, not the file's first. A
    # threshold of 0 makes every re-timing an event, so each shows the baseline it was measured
    # against, whatever the machine's load does to the timings themselves.
    settings = ProfileSettings(
        warmup=3, runs=30, reference_every=1, max_attempts=1, drift_correction=False,
        drift_threshold=0.0,
    )  # fmt: skip
    with SlowingReference(after=10**6) as backend:  # never slower: yesterday
        with LutStore.create(
            tmp_path / "r.lut", backend.config(), backend.device_info(), settings.identity()
        ) as store:
            profile_layers(backend, store, SPECS[:1], settings, progress=False)
    with SlowingReference(after=0) as backend:  # always twice the work: today
        with LutStore.open(tmp_path / "r.lut") as store:
            report = profile_layers(backend, store, SPECS, settings, progress=False)
            ref = store.reference_frame()
    assert ref.ratio.iloc[-1] > 1.5  # the file's history does show the change of speed
    yesterday_ms, today_ms = ref.median_ms.iloc[0], ref.median_ms.iloc[2]
    assert len(report.drift) == 2  # today: timed at 1 (its baseline), 2 and 3 rows in the file
    assert (
        {e["baseline_ms"] for e in report.drift} == {round(today_ms, 4)} != {round(yesterday_ms, 4)}
    )
    assert list(ref.rows_done) == [0, 1, 1, 2, 3]  # rows in the file, not restarting at 0
