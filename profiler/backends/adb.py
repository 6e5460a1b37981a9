"""The phone backend: time each layer on an Android phone over adb with a benchmark runner.

    with AdbBackend(runner="./onnxruntime_perf_test") as b:   # one phone attached
        m = b.measure(workload, warmup=10, runs=50)

On ``__enter__`` it picks the phone (``serial`` or the only one attached), reads its facts, picks
the fastest ``threads`` cores from ``cpuinfo_max_freq`` (or ``cpu_mask``; refusing when cores of
``cpu/possible`` are offline or hidden, see :mod:`profiler.adb.cores`), creates ``work_dir``,
ends a runner an earlier cut-off run left behind, pushes the runner once and reads its
``--help`` (its kind, when the name does not say, and its version: :mod:`profiler.adb.identity`).
``measure`` writes the layer's model file (cached, see :mod:`profiler.export`), pushes it, runs
the runner under ``taskset`` (:mod:`profiler.adb.session`), parses its output and removes the
model. ``__exit__`` deletes ``work_dir``.

Units: milliseconds per forward pass as the runner times them on the phone (batch 1, fp32).
Warm-up: ``onnxruntime_perf_test`` has no warm-up option; we ask it for ``warmup + runs``
repetitions and drop the first ``warmup`` of its per-run times (its result file), so a
measurement has ``runs`` timed runs after ``warmup`` untimed ones, plus the one untimed run the
tool always does first (``config()["runner_own_warmup_runs"]``). A runner too old to write the
result file gives only its summary (``n`` then counts all its runs, ``warmup`` is 1).
``benchmark_model`` (TFLite/LiteRT's tool, published prebuilt for android_arm64) takes
``--warmup_runs`` directly; each workload is written to a ``.tflite`` file for it (cached, see
:mod:`profiler.tflite`) and run with the XNNPACK delegate, ``--use_xnnpack=true``. What the
runner prints of its runs is kept: p5/median/p95, or the per-run times, and whether its median
is really the mean (:class:`lut.measurement.Measurement`).
Watching: before the first layer and after every ``check_every`` layers the cores' clocks and
the thermal zones are logged, and timing pauses while the phone is throttled
(:mod:`profiler.adb.watch`); the log goes into the LUT opened with :meth:`open_lut`.
Time limits: every adb call has one (:mod:`profiler.adb.client`); a runner call's scales with
its runs (:class:`profiler.adb.session.RunnerLimits`, ``runner_timeout_s`` fixes it). A runner
that overruns is killed on the phone and the layer fails; a phone that stops answering ends the
run with :class:`profiler.adb.client.PhoneFrozenError`. While a call runs, :attr:`heartbeat`
hears how long it has waited.
On failure: a runner crash, overrun or unreadable output raises :class:`BackendError` naming
the layer (the backend stays usable); losing the phone raises :class:`DeviceLostError` saying
how to resume. Leaving the ``with`` block after an interruption or a lost phone cleans up with
short limits, so Ctrl-C ends a run within seconds whatever the phone's state.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lut.measurement import Measurement
from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.adb import cores as core_check
from profiler.adb import identity, probe, runners
from profiler.adb.client import AdbClient, AdbDevice, NoAnswerError
from profiler.adb.parsers import ParseError, parse_perf_test_result_file
from profiler.adb.runners import RunnerKind, RunRequest, command_line
from profiler.adb.session import RunnerLimits, kill_script, run_script
from profiler.adb.thermal import CoolingPolicy
from profiler.adb.watch import PhoneWatch
from profiler.base import Backend, BackendError, DeviceLostError, Workload
from profiler.export import export_settings, onnx_path, tflite_export_settings, tflite_path

log = logging.getLogger(__name__)
DEFAULT_WORK_DIR = "/data/local/tmp/lutnas"
RESULT_FILE = "result.csv"
CLEANUP_TIMEOUT_S = 4.0  # each clean-up call after an interruption or a failure


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    """

    name = "adb"

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
        self.runner_sha256 = _sha256(self.runner_path)
        self.runner_version = ""
        self.row_note: str | None = None  # set by open_lut when the binary or version changed
        self.device: AdbDevice | None = None
        self.props: dict[str, str] = {}
        self.cores: list[int] = []
        self.mask = ""
        self.initial_state: probe.CpuState | None = None
        self.watch: PhoneWatch | None = None
        self._slowest_run_ms: float | None = None
        self._since_check = 0
        self._measured = 0

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
        wd = shlex.quote(self.work_dir)
        setup = device.shell(f"mkdir -p {wd} && command -v taskset && {kill_script(self.work_dir)}")
        if setup.returncode != 0:
            raise LutnasError(
                f"phone {self.serial}: cannot create {self.work_dir} or find "
                f"`taskset` ({(setup.stderr or setup.stdout).strip()})"
            )
        if "killed" in setup.stdout:
            log.warning("phone %s: ended a runner an earlier run left running", self.serial)
        device.push(self.runner_path, self._remote_runner, mode=0o755)
        help_text = self._help_text(device)
        self.kind = self.kind or self._kind_from_help(help_text)
        self.runner_version = identity.help_version(help_text, self._remote_runner)
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
        self._since_check = self.check_every  # check before the first layer

    def __exit__(self, exc_type: object = None, *exc_info: object) -> None:
        device, self.device = self.device, None
        if device is None or device.frozen:
            return
        interrupted = exc_type is not None and not (
            isinstance(exc_type, type) and issubclass(exc_type, BackendError)
        )
        try:
            if self._measured and exc_type is None and self.watch is not None:
                self.watch.check("end", self._measured, cool=False)
            limit = CLEANUP_TIMEOUT_S if exc_type is not None else None
            wd = shlex.quote(self.work_dir)
            script = f"{kill_script(self.work_dir)}; rm -rf {wd}"
            device.shell(script, **({"timeout_s": limit} if limit else {}))
        except (DeviceLostError, BackendError) as exc:
            how = "after the interruption" if interrupted else "at the end"
            log.warning("could not clean %s on %s %s: %s", self.work_dir, self.serial, how, exc)

    def _help_text(self, device: AdbDevice) -> str:
        """What the pushed binary prints for ``--help`` (stdout and stderr)."""
        return device.shell(f"{shlex.quote(self._remote_runner)} --help 2>&1", timeout_s=30).stdout

    def _kind_from_help(self, help_text: str) -> RunnerKind:
        """Tell the runner from its help text."""
        kind = runners.runner_kind_from_help(help_text)
        if kind is None:
            first = (help_text.strip().splitlines() or ["(no output)"])[0][:200]
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

    def open_lut(self, path: str | Path, settings: dict, resume: bool = True) -> LutStore:
        """The LUT, created or resumed under this runner's identity (kind and version; another
        binary of the same version is noted on each new row: :mod:`profiler.adb.identity`);
        this session's phone log is kept in it."""
        config, device = self.config(), self.device_info()
        path = Path(path)
        plan = None
        if resume and path.is_file():
            with LutStore.open(path, writable=False) as old:
                meta = old.meta
            plan = identity.plan_resume(
                meta.get("backend_config", {}),
                meta.get("runner"),
                config,
                self.runner_sha256,
                self.allow_runner_change,
                path,
            )
        opened = plan.open_config if plan else config
        store = LutStore.create_or_resume(path, opened, device, settings, resume=resume)
        try:
            meta = store.meta
            if "runner" not in meta:  # the binary of the first rows
                first = {"sha256": meta["backend_config"].get(identity.OLD_KEY)}
                store.set_meta("runner", first if plan else {"sha256": self.runner_sha256})
            if plan and plan.new_config:
                store.set_meta("backend_config", plan.new_config)
            changes = meta.get("runner_changes", [])
            last_sha = changes[-1].get("sha256") if changes else None
            if plan and plan.change and plan.change["sha256"] != last_sha:  # once per binary
                store.set_meta("runner_changes", [*changes, plan.change])
            self.row_note = plan.note if plan else None
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
            **self._kind_settings(),
        }

    def _kind_settings(self) -> dict:
        """How models are made for this runner (part of the config: it changes the numbers)."""
        if self.kind.model_suffix == ".tflite":
            return {**tflite_export_settings(), "delegate": "xnnpack"}
        return export_settings()

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
        if self.kind.model_suffix == ".tflite":
            return tflite_path(workload, self.cache_dir)
        return onnx_path(workload, self.cache_dir)

    def measure(self, workload: Workload, warmup: int, runs: int) -> Measurement:
        if runs < 1 or warmup < 0:
            raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
        device = self._require_device()
        watch = self._require_watch()
        watch.heartbeat = self.heartbeat
        try:
            if self._since_check >= self.check_every:
                when = "before layer" if not self._measured else "between batches"
                watch.check(when, self._measured)
                self._since_check = 0
            m = self._measure(device, workload, warmup, runs)
        except DeviceLostError as exc:
            raise DeviceLostError(f"measuring {workload.key}: {exc}") from exc
        self._since_check += 1
        self._measured += 1
        return replace(m, note=self.row_note) if self.row_note else m

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
            )
        )
        script = run_script(self.work_dir, self.mask, command_line(argv), [RESULT_FILE], [remote])
        where = f"{self.kind.name} on {workload.key}"
        total_runs = warmup + runs + self.kind.own_warmup_runs
        limit_s = self.limits.limit_s(total_runs, self._slowest_run_ms)
        r = self._run(device, script, limit_s, where)
        if r.returncode != 0:
            detail = (r.stderr.strip() or r.stdout.strip() or "no output")[-300:]
            raise BackendError(f"{where} failed ({runners.exit_text(r.returncode)}): {detail}")
        try:
            parsed = self.kind.parse(r.stdout + r.stderr)
        except ParseError as exc:
            raise BackendError(f"{where}: unreadable output: {exc}") from exc
        m = parsed.to_measurement()
        if result is not None:
            samples = self._samples(device, result, where)
            if len(samples) == warmup + runs:
                m = Measurement.from_samples(samples[warmup:], warmup)
            else:
                log.warning(
                    "%s: %d per-run times for %d runs; using its summary",
                    where,
                    len(samples),
                    warmup + runs,
                )
        slowest = parsed.max_ms or m.p95_ms or m.median_ms
        self._slowest_run_ms = max(self._slowest_run_ms or 0.0, slowest)
        return m

    def _run(self, device: AdbDevice, script: str, limit_s: float, where: str):
        """The runner call; past ``limit_s`` the runner is killed on the phone and the layer
        fails (a phone that no longer answers at all ends the run: PhoneFrozenError)."""

        def tick(waited_s: float) -> None:
            if self.heartbeat is not None:
                self.heartbeat(f"{self.kind.name} on the phone: {waited_s:.0f} of ≤{limit_s:.0f} s")

        try:
            return device.shell(script, timeout_s=limit_s, heartbeat=tick)
        except NoAnswerError:
            killed = device.shell(kill_script(self.work_dir)).stdout.strip()
            self._require_watch().note(
                "runner_overruns", {"at_layer": self._measured, "limit_s": limit_s, "what": where}
            )
            raise BackendError(
                f"{where} ran past its limit of {limit_s:.0f} s and was "
                f"{'killed on the phone' if killed else 'gone when we looked'}; if the layer is "
                "really that slow, raise --runner-timeout"
            ) from None

    def _samples(self, device: AdbDevice, result: str, where: str) -> list[float]:
        try:
            return parse_perf_test_result_file(device.read_file(result).decode(errors="replace"))
        except (ParseError, BackendError) as exc:  # older runners write no result file
            log.warning("%s: no per-run times (%s)", where, exc)
            return []
