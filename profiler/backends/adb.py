"""The phone backend: time each layer on an Android phone over adb with a benchmark runner.

    with AdbBackend(runner="./benchmark_model") as b:   # one phone attached
        m = b.measure(workload, warmup=10, runs=50)

On ``__enter__`` it picks the phone (``serial`` or the only one attached), reads its facts, picks
the fastest ``threads`` cores from ``cpuinfo_max_freq`` (or ``cpu_mask``; refusing when cores of
``cpu/possible`` are offline or hidden: :mod:`profiler.adb.cores`), creates ``work_dir``, ends a
runner an earlier cut-off run left there, pushes the runner and reads its ``--help`` (its kind
when the name does not say, and its version: :mod:`profiler.adb.identity`). ``measure`` writes
the layer's model file (cached: :mod:`profiler.export`), pushes it, runs the runner pinned with
``taskset`` (:mod:`profiler.adb.session`), parses its output and removes the model;
``measure_batch`` does the same for ``batch_size`` layers with one push and one shell, handing
each row over as soon as it is timed (:mod:`profiler.adb.timing`). ``__exit__`` deletes
``work_dir``.

Units: milliseconds per forward pass as the runner times them (batch 1). Warm-up: ``warmup``
untimed runs, then ``runs`` timed ones, plus the runner's own untimed runs
(``config()["runner_own_warmup_runs"]``; how each runner is asked: :mod:`profiler.adb.runners`).
What the runner prints of its runs is kept: p5/median/p95 or the per-run times, and whether its
median is really its mean. Watching: clocks and thermal zones are logged before the first layer
and after every ``check_every`` layers, between batches, pausing while the phone is throttled;
the log goes into the LUT opened with :meth:`open_lut` (:mod:`profiler.adb.watch`). Time limits:
every adb call has one; a runner call's scales with its runs (``runner_timeout_s`` fixes it),
counts from its own start inside a batch, and a runner past it is killed on the phone.
:attr:`heartbeat` hears how long a call has waited.
Precision and delegate (``benchmark_model`` only): each workload is written to a ``.tflite``
file (fully quantized for ``precision="int8"``) and run with the ``delegate`` and precision
flags of :mod:`profiler.adb.delegates`; a run whose delegate did not take the whole graph is
refused.
On failure: a runner crash, overrun or unreadable output raises :class:`BackendError` naming the
layer (the backend stays usable); losing the phone, or a phone that answers nothing, raises
:class:`DeviceLostError` saying how to resume. After an interruption the clean-up uses short
limits, so Ctrl-C ends a run within seconds whatever the phone's state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lut.measurement import Measurement
from lutnas.errors import LutnasError
from profiler.adb import cores as core_check
from profiler.adb import delegates, identity, probe, runners
from profiler.adb.batch import DEFAULT_BATCH_SIZE
from profiler.adb.calls import RunnerCalls
from profiler.adb.client import AdbClient, AdbDevice
from profiler.adb.model_files import model_file, model_settings
from profiler.adb.runners import RunnerKind
from profiler.adb.session import RunnerLimits, clean_work_dir, prepare_work_dir
from profiler.adb.thermal import CoolingPolicy
from profiler.adb.timing import PhoneTiming
from profiler.adb.watch import PhoneWatch
from profiler.base import Backend, BackendError, OnRow, Workload
from profiler.cache_entry import file_sha256
from profiler.export import EXPORTER, export_settings, recorded_exporter
from profiler.precision import DEFAULT_DELEGATE, DEFAULT_PRECISION, DELEGATES, PRECISIONS

if TYPE_CHECKING:
    from lut.store import LutStore

log = logging.getLogger(__name__)
DEFAULT_WORK_DIR = "/data/local/tmp/lutnas"


class AdbBackend(Backend):
    """Times workloads on a phone over adb. See the module docstring for the guarantees.

    Args:
        serial: the phone's adb serial; None picks the only attached phone.
        runner: local path of the benchmark binary built for the phone (pushed once).
        runner_kind: 'onnxruntime_perf_test' or 'benchmark_model'; None guesses from the file
            name, then from the binary's help text on the phone.
        cpu_mask: taskset hex mask (e.g. '80'); None picks the fastest ``threads`` cores.
        threads: threads the runner may use (1: the usual single big core).
        work_dir: phone directory for the runner and models; deleted on exit.
        cache_dir: local model-file cache (default: see :mod:`profiler.export`).
        check_every: log clocks and temperatures, and cool down if needed, every N layers.
        cooling: throttling thresholds, watched zones and pause lengths.
        sleep: how to pause (tests inject a fake clock).
        runner_timeout_s: a fixed limit per runner call (None: scaled from its runs).
        allow_runner_change: resume a LUT measured with another version of the runner
            (recorded in the LUT and on every new row).
        precision: fp32, fp16 or int8 (benchmark_model only; see :mod:`profiler.precision`).
        delegate: xnnpack, gpu, nnapi or none (benchmark_model only).
        batch_size: layers the profiling loop hands :meth:`measure_batch` at a time (one push
            and one shell for them all); 1: each layer alone, as :meth:`measure` times it.
        exporter: the ONNX exporter (onnxruntime_perf_test only; :mod:`profiler.export`); a
            resumed LUT's own is used.
    """

    name = "adb"
    precisions = PRECISIONS
    delegates = DELEGATES

    @property
    def any_module(self) -> bool:  # type: ignore[override]
        """False with ``benchmark_model``: lutnas's ``.tflite`` writer takes its layers only."""
        return self.kind is None or self.kind.model_suffix != ".tflite"

    def __init__(
        self,
        serial: str | None = None,
        runner: str | Path | None = None,
        runner_kind: str | None = None,
        cpu_mask: str | None = None,
        threads: int = 1,
        work_dir: str = DEFAULT_WORK_DIR,
        cache_dir: str | Path | None = None,
        check_every: int = 10,
        cooling: CoolingPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        runner_timeout_s: float | None = None,
        allow_runner_change: bool = False,
        precision: str = DEFAULT_PRECISION,
        delegate: str = DEFAULT_DELEGATE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        exporter: str = EXPORTER,
    ) -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError(f"threads and batch_size must be at least 1: {threads}, {batch_size}")
        if runner is None:
            raise LutnasError(
                "the adb backend needs --runner PATH: TFLite's benchmark_model "
                "(or onnxruntime_perf_test) built for the phone's ABI"
            )
        self.runner_path = Path(runner)
        if not self.runner_path.is_file():
            raise LutnasError(
                f"runner {self.runner_path} does not exist; download TFLite's "
                "prebuilt benchmark_model for android_arm64 (see docs/phone.md) "
                "and pass its path with --runner"
            )
        self.kind: RunnerKind | None = runners.named_or_guessed(runner_kind, self.runner_path)
        self.precision, self.delegate = precision, delegate
        if self.kind is not None:
            delegates.check_combination(precision, delegate, self.kind.name)
        if not work_dir.startswith("/data/local/tmp/") or ".." in work_dir:
            raise LutnasError(f"work_dir {work_dir!r} must be a directory under /data/local/tmp/")
        self.serial = serial
        self.cpu_mask_option = cpu_mask
        self.threads = threads
        self.work_dir = work_dir.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.check_every = max(1, check_every)
        self.cooling = cooling or CoolingPolicy()
        self.sleep = sleep
        self.limits = RunnerLimits(fixed_s=runner_timeout_s)
        self.allow_runner_change = allow_runner_change
        self.runner_sha256 = file_sha256(self.runner_path)
        self.runner_version = ""
        self.row_note: str | None = None  # set by open_lut when the binary or version changed
        self.device: AdbDevice | None = None
        self.props: dict[str, str] = {}
        self.cores: list[int] = []
        self.mask = ""
        self.initial_state: probe.CpuState | None = None
        self.watch: PhoneWatch | None = None
        self.batch_size = batch_size
        export_settings(exporter)  # a known ONNX exporter, or ValueError
        self.onnx_exporter = exporter
        self.timing: PhoneTiming | None = None

    # lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> AdbBackend:
        client = AdbClient()
        self.serial = client.select(self.serial)
        self.device = client.device(self.serial)
        try:
            self._prepare(self.device)
        except BaseException:
            self.__exit__()  # `with` does not exit what failed to enter: clean up here
            raise
        return self

    def _prepare(self, device: AdbDevice) -> None:
        self.props = probe.read_props(device)
        self.props["ro.serialno"] = device.getprop("ro.serialno")
        self.initial_state = probe.read_cpu_state(device)
        mask_cores = probe.parse_cpu_mask(self.cpu_mask_option) if self.cpu_mask_option else None
        core_check.check_cores(self.initial_state, self.serial, mask_cores)
        self.cores = mask_cores or probe.fastest_cores(
            self.initial_state.max_freq_khz, self.threads
        )
        self.mask = probe.cpu_mask(self.cores)
        prepare_work_dir(device, self.work_dir)
        device.push(self.runner_path, self._remote_runner, mode=0o755)
        self.kind, self.runner_version = identity.identify(
            device, self._remote_runner, self.runner_path.name, self.kind
        )
        delegates.check_combination(self.precision, self.delegate, self.kind.name)
        self.watch = PhoneWatch(
            device,
            self.cores,
            self.cooling,
            lambda seconds: self.sleep(seconds),  # looked up at each pause (tests swap it)
            {
                "serial": self.serial,
                "runner": {"kind": self.kind.name, "version": self.runner_version},
                "runner_sha256": self.runner_sha256,
                "cpu_mask": self.mask,
            },
        )
        log.info(
            "phone %s (%s): runner %s %s pushed, pinned to cpu %s (mask %s)",
            self.serial,
            self.props.get("ro.product.model"),
            self.kind.name,
            self.runner_version,
            self.cores,
            self.mask,
        )
        calls = RunnerCalls(
            kind=self.kind,
            runner=self._remote_runner,
            work_dir=self.work_dir,
            threads=self.threads,
            precision=self.precision,
            delegate=self.delegate,
            limits=self.limits,
            model_file=self._model_file,
        )
        self.timing = PhoneTiming(device, self.watch, calls, self.mask, self.check_every)

    def __exit__(self, exc_type: object = None, *exc_info: object) -> None:
        device, self.device = self.device, None
        if device is None or device.frozen:
            return
        measured = self.timing.measured if self.timing is not None else 0
        if measured and exc_type is None and self.watch is not None:
            try:
                self.watch.check("end", measured, cool=False)
            except BackendError as exc:  # DeviceLostError too
                log.warning("phone %s: no reading at the end (%s)", self.serial, exc)
        clean_work_dir(device, self.work_dir, after_failure=exc_type is not None)

    @property
    def _remote_runner(self) -> str:
        return f"{self.work_dir}/{self.runner_path.name}"

    def open_lut(self, path: str | Path, settings: dict, resume: bool = True) -> LutStore:
        """The LUT, created or resumed under this runner's identity (its kind and version;
        another binary of the same version is noted on each new row, another version needs
        ``allow_runner_change``: :func:`profiler.adb.identity.open_lut`); this session's phone
        log is kept in it."""
        self.onnx_exporter = recorded_exporter(path, resume) or self.onnx_exporter
        store, self.row_note = identity.open_lut(
            path,
            self.config(),
            self.device_info(),
            settings,
            resume,
            self.runner_sha256,
            self.allow_runner_change,
        )
        self._require_timing().row_note = self.row_note
        try:
            self._require_watch().record_in(store)
        except BaseException:
            store.close()
            raise
        return store

    # facts -------------------------------------------------------------------------------
    def config(self) -> dict:
        self._require_device()
        return {
            "backend": self.name,
            "device": f"{self.props.get('ro.product.manufacturer', '')} "
            f"{self.props.get('ro.product.model', '')}".strip(),
            "device_serial": self.props.get("ro.serialno") or self.serial,
            "soc": self.props.get("ro.soc.model") or self.props.get("ro.board.platform", ""),
            "android": self.props.get("ro.build.version.release", ""),
            "abi": self.props.get("ro.product.cpu.abi", ""),
            "runner": self.kind.name,
            identity.VERSION_KEY: self.runner_version,
            "runner_own_warmup_runs": self.kind.own_warmup_runs,
            "threads": self.threads,
            "cpu_mask": self.mask,
            "precision": self.precision,
            **model_settings(
                self.kind.model_suffix, self.precision, self.delegate, self.onnx_exporter
            ),
        }

    def device_info(self) -> dict:
        self._require_device()
        state = self.initial_state
        return {
            "kind": "android",
            "adb_serial": self.serial,
            "props": dict(self.props),
            "cpu_max_freq_khz": {str(k): v for k, v in sorted(state.max_freq_khz.items())},
            "cpu_possible": list(state.possible),
            "cpu_online": list(state.online),
            "clusters": probe.clusters(state.max_freq_khz),
            "pinned_cpus": self.cores,
            "cpu_mask": self.mask,
            "runner": self.kind.name,
            "runner_file": self.runner_path.name,
            "runner_sha256": self.runner_sha256,
            "initial_state": state.to_dict(),
        }

    @property
    def thermal_log(self) -> list[dict]:
        """This session's checks: clocks, temperatures, pauses (also in the LUT)."""
        return self._require_watch().checks

    def _require_device(self) -> AdbDevice:
        if self.device is None:
            raise BackendError("the adb backend is used outside its `with` block")
        return self.device

    def _require_watch(self) -> PhoneWatch:
        self._require_device()
        return self.watch

    # timing ------------------------------------------------------------------------------
    def _model_file(self, workload: Workload) -> Path:
        suffix, exporter = self.kind.model_suffix, self.onnx_exporter
        return model_file(workload, suffix, self.cache_dir, self.precision, exporter)

    def _require_timing(self) -> PhoneTiming:
        self._require_device()
        return self.timing

    def measure(self, workload: Workload, warmup: int, runs: int) -> Measurement:
        return self._require_timing().measure(workload, warmup, runs, self.heartbeat)

    def measure_batch(
        self, workloads: Sequence[Workload], warmup: int, runs: int, on_row: OnRow
    ) -> None:
        """Time ``workloads`` as one batch: one push and one shell
        (:meth:`profiler.adb.timing.PhoneTiming.measure_batch`); ``on_row(index, measurement or
        error)`` hears each as soon as its runner call ends."""
        self._require_timing().measure_batch(workloads, warmup, runs, on_row, self.heartbeat)
