"""The phone backend: time each layer on an Android phone over adb with a benchmark runner.

    with AdbBackend(runner="./onnxruntime_perf_test") as b:   # one phone attached
        m = b.measure(workload, warmup=10, runs=50)

On ``__enter__`` it picks the phone (``serial`` or the only one attached), reads its facts, picks
the fastest ``threads`` cores from ``cpuinfo_max_freq`` (or ``cpu_mask``), creates ``work_dir``
and pushes the runner once. ``measure`` exports the layer to ONNX (cached, see
:mod:`profiler.export`), pushes it, runs the runner under ``taskset``, parses its output and
removes the model. ``__exit__`` deletes ``work_dir``.

Units: milliseconds per forward pass as the runner times them on the phone (batch 1, fp32).
Warm-up: ``onnxruntime_perf_test`` has no warm-up option; we ask it for ``warmup + runs``
repetitions and drop the first ``warmup`` of its per-run times (its result file), so a
measurement has ``runs`` timed runs after ``warmup`` untimed ones, plus the one untimed run the
tool always does first (``config()["runner_own_warmup_runs"]``). A runner too old to write the
result file gives only its summary (``n`` then counts all its runs, ``warmup`` is 1).
``benchmark_model`` (TFLite/LiteRT's tool, published prebuilt for android_arm64) takes
``--warmup_runs`` directly; each workload is written to a ``.tflite`` file for it (cached, see
:mod:`profiler.tflite`; fully quantized for ``precision="int8"``) and run with the XNNPACK
delegate, ``--use_xnnpack=true``, or the ``delegate`` and precision flags of
:mod:`profiler.adb.delegates`; a run whose delegate did not take the whole graph is refused.
The runner kind comes from ``runner_kind``, else the binary's file name, else its own help text
on the phone (read once, on ``__enter__``).
Watching: before the first layer and after every ``check_every`` layers the cores' clocks and
the thermal zones are logged, and timing pauses while the phone is throttled
(see :mod:`profiler.adb.thermal`).
On failure: a runner crash or unreadable output raises :class:`BackendError` naming the layer
(the backend stays usable); losing the phone raises :class:`DeviceLostError` saying how to resume.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable
from pathlib import Path

from lut.measurement import Measurement
from lutnas.errors import LutnasError
from profiler.adb import delegates, probe, runners
from profiler.adb.client import AdbClient, AdbDevice
from profiler.adb.parsers import ParseError, parse_perf_test_result_file
from profiler.adb.runners import RunnerKind, RunRequest, command_line
from profiler.adb.thermal import CoolingPolicy, throttle_reasons, wait_until_cool
from profiler.base import Backend, BackendError, DeviceLostError, Workload
from profiler.cache_entry import file_sha256
from profiler.export import export_settings, onnx_path, tflite_export_settings, tflite_path
from profiler.precision import (
    DEFAULT_DELEGATE,
    DEFAULT_PRECISION,
    DELEGATES,
    PRECISIONS,
    file_precision,
)

log = logging.getLogger(__name__)
DEFAULT_WORK_DIR = "/data/local/tmp/lutnas"
RESULT_FILE = "result.csv"


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
        cooling: throttling thresholds and pause lengths.
        sleep: how to pause (tests inject a fake clock).
        run_timeout_s: a runner silent for this long is treated as a lost phone.
        precision: fp32, fp16 or int8 (benchmark_model only; see :mod:`profiler.precision`).
        delegate: xnnpack, gpu, nnapi or none (benchmark_model only).
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
        run_timeout_s: float = 600.0,
        precision: str = DEFAULT_PRECISION,
        delegate: str = DEFAULT_DELEGATE,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
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
        self.run_timeout_s = run_timeout_s
        self.runner_sha256 = file_sha256(self.runner_path)
        self.device: AdbDevice | None = None
        self.props: dict[str, str] = {}
        self.cores: list[int] = []
        self.mask = ""
        self.initial_state: probe.CpuState | None = None
        self.thermal_log: list[dict] = []  # one entry per check: clocks, temps, pause
        self.paused_s = 0.0
        self._since_check = 0
        self._measured = 0

    # lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> AdbBackend:
        client = AdbClient()
        self.serial = client.select(self.serial)
        self.device = client.device(self.serial)
        self.props = probe.read_props(self.device)
        self.props["ro.serialno"] = self.device.getprop("ro.serialno")
        self.initial_state = probe.read_cpu_state(self.device)
        if self.cpu_mask_option:
            self.cores = probe.parse_cpu_mask(self.cpu_mask_option)
        else:
            self.cores = probe.fastest_cores(self.initial_state.max_freq_khz, self.threads)
        self.mask = probe.cpu_mask(self.cores)
        wd = shlex.quote(self.work_dir)
        setup = self.device.shell(f"mkdir -p {wd} && command -v taskset")
        if setup.returncode != 0:
            raise LutnasError(
                f"phone {self.serial}: cannot create {self.work_dir} or find "
                f"`taskset` ({(setup.stderr or setup.stdout).strip()})"
            )
        self.device.push(self.runner_path, self._remote_runner, mode=0o755)
        if self.kind is None:
            try:
                self.kind = self._kind_from_help()
                delegates.check_combination(self.precision, self.delegate, self.kind.name)
            except LutnasError:
                self.__exit__()  # `with` does not exit what failed to enter: clean up here
                raise
        log.info(
            "phone %s (%s): runner %s pushed, pinned to cpu %s (mask %s)",
            self.serial,
            self.props.get("ro.product.model"),
            self.kind.name,
            self.cores,
            self.mask,
        )
        self._since_check = self.check_every  # check before the first layer
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.device is None:
            return
        try:
            if self._measured:
                self._check("end", cool=False)
            self.device.remove(self.work_dir, recursive=True)
        except (DeviceLostError, BackendError) as exc:
            log.warning("could not clean %s on %s: %s", self.work_dir, self.serial, exc)
        self.device = None

    def _kind_from_help(self) -> RunnerKind:
        """Ask the pushed binary for its help text and tell the runner from it."""
        out = self._require_device().shell(
            f"{shlex.quote(self._remote_runner)} --help 2>&1", timeout_s=60
        )
        kind = runners.runner_kind_from_help(out.stdout)
        if kind is None:
            first = (out.stdout.strip().splitlines() or ["(no output)"])[0][:200]
            raise LutnasError(
                f"cannot tell which runner {self.runner_path.name} is from its name or its "
                f"--help output on the phone ({first!r}); name it with --runner-kind "
                f"({' or '.join(runners.RUNNERS)})"
            )
        log.info("runner %s recognised from its help text as %s", self.runner_path.name, kind.name)
        return kind

    @property
    def _remote_runner(self) -> str:
        return f"{self.work_dir}/{self.runner_path.name}"

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
            "runner_sha256": self.runner_sha256,
            "runner_own_warmup_runs": self.kind.own_warmup_runs,
            "threads": self.threads,
            "cpu_mask": self.mask,
            "precision": self.precision,
            **self._kind_settings(),
        }

    def _kind_settings(self) -> dict:
        """How models are made and run for this runner (part of the config: it changes the
        numbers)."""
        if self.kind.model_suffix == ".tflite":
            return {
                **tflite_export_settings(file_precision(self.precision)),
                **delegates.delegate_settings(self.precision, self.delegate),
            }
        return export_settings()

    def device_info(self) -> dict:
        self._require_device()
        state = self.initial_state
        return {
            "kind": "android",
            "adb_serial": self.serial,
            "props": dict(self.props),
            "cpu_max_freq_khz": {str(k): v for k, v in sorted(state.max_freq_khz.items())},
            "clusters": probe.clusters(state.max_freq_khz),
            "pinned_cpus": self.cores,
            "cpu_mask": self.mask,
            "runner": self.kind.name,
            "runner_file": self.runner_path.name,
            "initial_state": state.to_dict(),
        }

    def _require_device(self) -> AdbDevice:
        if self.device is None:
            raise BackendError("the adb backend is used outside its `with` block")
        return self.device

    # watching the phone ------------------------------------------------------------------
    def _check(self, when: str, cool: bool = True) -> None:
        """Log clocks and temperatures; with ``cool``, first wait while the phone is throttled."""
        device = self._require_device()
        if cool:
            state, paused_s, reasons = wait_until_cool(
                lambda: probe.read_cpu_state(device), self.cores, self.cooling, self.sleep
            )
        else:
            state, paused_s = probe.read_cpu_state(device), 0.0
            reasons = throttle_reasons(state, self.cores, self.cooling)
        self.paused_s += paused_s
        entry = {
            "when": when,
            "layers_done": self._measured,
            "paused_s": paused_s,
            "still_throttled": reasons,
            **state.to_dict(),
        }
        self.thermal_log.append(entry)
        log.info("phone %s %s: %s", self.serial, when, entry)

    # timing ------------------------------------------------------------------------------
    def _model_file(self, workload: Workload) -> Path:
        if self.kind.model_suffix == ".tflite":
            return tflite_path(workload, self.cache_dir, file_precision(self.precision))
        return onnx_path(workload, self.cache_dir)

    def measure(self, workload: Workload, warmup: int, runs: int) -> Measurement:
        if runs < 1 or warmup < 0:
            raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
        device = self._require_device()
        try:
            if self._since_check >= self.check_every:
                self._check("before layer" if not self._measured else "between batches")
                self._since_check = 0
            m = self._measure(device, workload, warmup, runs)
        except DeviceLostError as exc:
            raise DeviceLostError(f"measuring {workload.key}: {exc}") from exc
        self._since_check += 1
        self._measured += 1
        return m

    def _measure(
        self, device: AdbDevice, workload: Workload, warmup: int, runs: int
    ) -> Measurement:
        local = self._model_file(workload)
        remote = f"{self.work_dir}/{local.name}"
        result = f"{self.work_dir}/{RESULT_FILE}" if self.kind.per_run_samples else None
        device.push(local, remote, mode=0o644)
        argv = self.kind.command(
            RunRequest(
                runner=self._remote_runner,
                model=remote,
                warmup=warmup,
                runs=runs,
                threads=self.threads,
                result_file=result,
                delegate_flags=tuple(
                    delegates.benchmark_model_flags(self.precision, self.delegate)
                ),
            )
        )
        q = shlex.quote
        script = (
            f"cd {q(self.work_dir)} && rm -f {q(RESULT_FILE)} && "
            f"taskset {self.mask} {command_line(argv)}; rc=$?; rm -f {q(remote)}; exit $rc"
        )
        r = device.shell(script, timeout_s=self.run_timeout_s)
        where = f"{self.kind.name} on {workload.key}"
        if r.returncode != 0:
            detail = (r.stderr.strip() or r.stdout.strip() or "no output")[-300:]
            raise BackendError(f"{where} failed ({runners.exit_text(r.returncode)}): {detail}")
        try:
            parsed = self.kind.parse(r.stdout)
        except ParseError as exc:
            raise BackendError(f"{where}: unreadable output: {exc}") from exc
        if self.kind.model_suffix == ".tflite":
            delegates.check_delegation(f"{r.stdout}\n{r.stderr}", self.delegate, where)
        if result is not None:
            samples = self._samples(device, result, where)
            if len(samples) == warmup + runs:
                return Measurement.from_samples(samples[warmup:], warmup)
            log.warning(
                "%s: %d per-run times for %d runs; using its summary",
                where,
                len(samples),
                warmup + runs,
            )
        return parsed.to_measurement()

    def _samples(self, device: AdbDevice, result: str, where: str) -> list[float]:
        try:
            return parse_perf_test_result_file(device.read_file(result).decode(errors="replace"))
        except (ParseError, BackendError) as exc:  # older runners write no result file
            log.warning("%s: no per-run times (%s)", where, exc)
            return []
