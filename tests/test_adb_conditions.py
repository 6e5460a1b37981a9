"""The phone path under real conditions, on the emulated phone through the real adb server: a
phone that freezes, a runner that hangs, big cores offline or hidden, a thermal zone that never
cools, runners whose log goes to stderr or that print an older release's output, and the runner
re-downloaded or replaced between runs.

Marker ``adb``; fixtures from :mod:`adbemu.fixtures`. No assertion depends on how fast anything
ran: a hang shows as a subprocess that does not end within a generous guard.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from adbemu.profile import DeviceProfile
from test_adb_backend import SPECS

from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.adb.client import NoAnswerError, PhoneFrozenError
from profiler.adb.runners import RunRequest, command_line
from profiler.adb.session import run_script
from profiler.adb.thermal import CoolingPolicy
from profiler.backends.adb import AdbBackend
from profiler.loop import ProfileSettings, layer_workload, profile_layers

pytestmark = pytest.mark.adb

SETTINGS = ProfileSettings(
    warmup=1, runs=5, reference_every=0, max_attempts=1, drift_correction=False
)
GUARD_S = 150  # a hang is a run still going after this; the old limit was 600 s per call


@pytest.fixture
def options(benchmark_model_runner, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    return {"runner": benchmark_model_runner, "cache_dir": cache}


def hang_on(phone, backend: AdbBackend, spec) -> None:
    """Make the runner hang on ``spec``'s model file (its name hashes the layer key)."""
    phone.faults.runner = "hang"
    phone.faults.runner_match = backend._model_file(layer_workload(spec)).name


def cli(runner, out, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "lutnas.cli.profile", "--backend", "adb", "--runner", str(runner),
        "--arch", "mnasnet-a1", "--resolution", "224", "--limit", "4", "--runs", "5",
        "--warmup", "1", "--reference-every", "0", "--ci-tolerance", "100", "--out", str(out),
        *extra,
    ]  # fmt: skip


def rows(path) -> int:
    try:
        con = sqlite3.connect(path)
        try:
            return con.execute("SELECT COUNT(*) FROM layers").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def start(args: list[str], tmp_path) -> subprocess.Popen:
    env = {**os.environ, "LUTNAS_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


# frozen phones and hung runners -------------------------------------------------------------


def freeze_at_second_layer(phone, batch: bool) -> None:
    if batch:  # the 4 layers are one batch: the phone freezes as the second one's runner starts
        phone.faults.cut_at, phone.faults.cut_how = "STARTING!", "freeze"
        phone.faults.cut_after = 1
    else:  # one shell per layer: it freezes while running the second
        phone.faults.freeze_after, phone.faults.drop_count_match = 1, "--graph="


@pytest.mark.parametrize("batch", ["4", "1"])
def test_a_frozen_phone_ends_the_run_with_an_error_and_keeps_the_rows(
    phone, benchmark_model_runner, tmp_path, batch
):
    out = tmp_path / "frozen.lut"
    freeze_at_second_layer(phone, batch != "1")
    args = cli(benchmark_model_runner, out, "--runner-timeout", "4", "--phone-batch", batch)
    proc = start(args, tmp_path)
    try:
        _, err = proc.communicate(timeout=GUARD_S)
    finally:
        proc.kill()
        phone.thaw()
    assert proc.returncode == 2, err
    assert "error: " in err and "stopped answering" in err
    assert "no answer within 4 s while running benchmark_model" in err
    assert "run the same command again" in err
    assert rows(out) == 1  # the row measured before the freeze is kept


def test_ctrl_c_on_a_frozen_phone_ends_the_run_within_seconds(
    phone, benchmark_model_runner, tmp_path
):
    out = tmp_path / "ctrl-c.lut"
    freeze_at_second_layer(phone, batch=True)
    proc = start(cli(benchmark_model_runner, out, "--no-progress"), tmp_path)  # default limits
    try:
        deadline = time.monotonic() + GUARD_S
        while not phone.frozen.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert phone.frozen.is_set(), "the run never reached its second layer"
        time.sleep(1.0)  # the second runner call is waiting on the frozen phone
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # the old exit path waited 2 x 600 s here
    finally:
        proc.kill()
        phone.thaw()
    assert proc.returncode == 130, err
    assert "interrupted: everything finished is saved" in err
    assert rows(out) == 1


def test_a_frozen_phone_error_is_a_lost_phone(phone, options):
    with AdbBackend(**options) as backend:
        phone.freeze()
        try:
            with pytest.raises(PhoneFrozenError, match="stopped answering"):
                backend.device.shell("echo hi", timeout_s=2)
        finally:
            phone.thaw()
        assert backend.device.frozen  # and __exit__ leaves it alone


def test_a_hung_runner_is_killed_on_the_phone_and_the_run_goes_on(phone, options, tmp_path):
    heard: list[str] = []
    with AdbBackend(runner_timeout_s=3, **options) as backend:
        hang_on(phone, backend, SPECS[1])
        backend.heartbeat = heard.append
        with backend.open_lut(tmp_path / "hung.lut", SETTINGS.identity()) as store:
            report = profile_layers(backend, store, SPECS[:3], SETTINGS, progress=False)
            sessions = store.meta["phone_sessions"]
        assert gone(phone)  # killed, not left running
        assert [f.rsplit("/", 1)[1] for f in phone.files()] == ["benchmark_model"]  # models gone
    assert report.measured == 2 and list(report.failed) == [SPECS[1].key]
    message = report.failed[SPECS[1].key]
    assert "ran past its limit of 3 s and was killed on the phone" in message
    assert "--runner-timeout" in message
    (overrun,) = sessions[-1]["runner_overruns"]
    assert overrun["limit_s"] == 3 and SPECS[1].key in overrun["what"]
    # the wait was shown while it lasted (profile_layers hands the bar's postfix to the
    # backend; here the test listens instead of a bar)
    assert any(h.startswith("benchmark_model on the phone: ") and "of ≤3 s" in h for h in heard)


def test_the_progress_bar_shows_a_long_wait(phone, options, tmp_path, capsys):
    with AdbBackend(runner_timeout_s=3, **options) as backend:
        hang_on(phone, backend, SPECS[0])
        with backend.open_lut(tmp_path / "bar.lut", SETTINGS.identity()) as store:
            profile_layers(backend, store, SPECS[:1], SETTINGS, progress=True)
    assert "benchmark_model on the phone: " in capsys.readouterr().err


def gone(phone, name: str = "benchmark_model", within_s: float = 10.0) -> bool:
    """Whether no process of ``name`` runs on the phone (killed processes may take a moment
    to be reaped)."""
    deadline = time.monotonic() + within_s
    while phone.runner_processes(name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_runner_left_running_by_a_cut_off_run_is_ended_at_the_next_start(phone, options, caplog):
    with AdbBackend(**options) as backend:
        hang_on(phone, backend, SPECS[0])
        local = backend._model_file(layer_workload(SPECS[0]))
        remote = f"{backend.work_dir}/{local.name}"
        backend.device.push(local, remote)
        request = RunRequest(
            runner=backend._remote_runner, model=remote, warmup=1, runs=3, threads=1
        )
        script = run_script(
            backend.work_dir, backend.mask, command_line(backend.kind.command(request)), [], []
        )
        with pytest.raises(NoAnswerError):  # given up on, not killed: what a crash leaves
            backend.device.shell(script, timeout_s=2)
        assert phone.runner_processes("benchmark_model")
        backend.device.frozen = True  # leave without cleaning up, as a killed process would
    with caplog.at_level("WARNING"):
        with AdbBackend(**options):
            pass
    assert "ended a runner an earlier run left running" in caplog.text
    assert gone(phone)


# cores ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile, words",
    [
        (DeviceProfile(offline=(6, 7)), ["cpu6, cpu7 offline", "--cpu-mask"]),
        (DeviceProfile(hidden=(4, 5, 6, 7)), ["without cpufreq (hidden", "cpu4, cpu5, cpu6, cpu7"]),
    ],
)
def test_big_cores_offline_or_hidden_are_named_not_silently_skipped(
    phone_factory, options, profile, words
):
    phone = phone_factory(profile)
    with pytest.raises(LutnasError) as err:
        with AdbBackend(**options):
            pass
    for word in words:
        assert word in str(err.value)
    assert "cpu/possible lists 8 cores" in str(err.value)
    assert phone.taskset_masks() == []  # nothing was timed on a little core
    with AdbBackend(cpu_mask="10", **options) as backend:  # the user names cpu4
        backend.measure(layer_workload(SPECS[0]), 1, 3)
    assert phone.taskset_masks() == ["10"]


def test_a_mask_naming_an_offline_core_is_refused(phone_factory, options):
    phone_factory(DeviceProfile(offline=(7,)))
    with pytest.raises(LutnasError, match="--cpu-mask asks for cpu7, which is offline"):
        with AdbBackend(cpu_mask="80", **options):
            pass


# thermal -------------------------------------------------------------------------------------


def test_a_zone_that_never_cools_costs_one_wait_and_is_recorded(phone, options, tmp_path):
    pauses: list[float] = []
    phone.set_temperature(2, 81.0)  # "battery": hot all run, whatever we wait
    cooling = CoolingPolicy(step_s=10.0, max_wait_s=30.0)
    with AdbBackend(
        cooling=cooling, sleep=pauses.append, check_every=2, batch_size=2, **options
    ) as backend:  # checked before each batch of 2 layers
        with backend.open_lut(tmp_path / "hot.lut", SETTINGS.identity()) as store:
            profile_layers(backend, store, SPECS[:5], SETTINGS, progress=False)
    assert pauses == [10.0, 10.0, 10.0]  # the first check waits; the later two do not
    with LutStore.open(tmp_path / "hot.lut", writable=False) as store:
        (session,) = store.meta["phone_sessions"]
    assert list(session["excluded_zones"]) == ["thermal_zone2:battery"]
    assert session["excluded_zones"]["thermal_zone2:battery"]["celsius"] == 81.0
    checks = session["checks"]
    assert [c["paused_s"] for c in checks] == [30.0, 0.0, 0.0]  # one check per batch of 2
    assert all(c["temps_c"]["thermal_zone2:battery"] == 81.0 for c in checks)  # still logged
    assert all("cur_freq_khz" in c for c in checks)
    assert session["cooling"]["hot_temp_c"] == 75.0


def test_zones_and_threshold_are_options(phone, options):
    pauses: list[float] = []
    phone.set_temperature(2, 81.0)  # battery
    phone.set_temperature(0, 70.0)  # cpu-0-0-usr, under 75 but over 65
    only_cpu = CoolingPolicy(step_s=5.0, max_wait_s=10.0, zones=("cpu",))
    with AdbBackend(cooling=only_cpu, sleep=pauses.append, **options) as backend:
        backend.measure(layer_workload(SPECS[0]), 1, 3)
    assert pauses == []  # the battery zone is not watched
    lower = CoolingPolicy(step_s=5.0, max_wait_s=10.0, zones=("cpu",), hot_temp_c=65.0)
    with AdbBackend(cooling=lower, sleep=pauses.append, **options) as backend:
        backend.measure(layer_workload(SPECS[0]), 1, 3)
    assert pauses == [5.0, 5.0]


# what the runner prints ----------------------------------------------------------------------


@pytest.mark.parametrize("release", ["1.12", "2019", "2.13", None])
def test_every_release_s_output_becomes_rows_that_say_what_they_are(
    phone, options, tmp_path, release
):
    phone.faults.benchmark_release = release
    with AdbBackend(**options) as backend:
        with backend.open_lut(tmp_path / "r.lut", SETTINGS.identity()) as store:
            report = profile_layers(backend, store, SPECS[:2], SETTINGS, progress=False)
            layers = store.layers_frame()
    assert report.measured == 2, report.failed
    if release is None:  # LiteRT: its own p5/median/p95
        assert (layers.median_is_mean == 0).all() and layers.p5_ms.notna().all()
    else:  # older: no median printed; the mean stands in and the row says so, unless every
        # run took the same microseconds ("count=5 curr=23(all same)", which states the median:
        # it happened to the 30 us layer in a suite run), so the row's spread is nil
        assert layers.p5_ms.isna().all() and (layers.median_ms == layers.mean_ms).all()
        stated = layers[layers.median_is_mean == 0]
        assert (stated.std_ms == 0).all()
        assert (layers.median_is_mean == 1).any()  # the larger layer's runs are never all alike
    if release in ("1.12", "2019"):  # those logged to stderr: the runner's output really was
        runs = phone.runner_calls("--graph=")
        assert runs and all("2>&1" in c for c in runs)


def test_lut_show_and_the_verdict_of_an_old_release_lut(phone, benchmark_model_runner, tmp_path):
    phone.faults.benchmark_release = "2019"
    out = tmp_path / "old.lut"
    proc = start(cli(benchmark_model_runner, out, "--no-progress", "--limit", "2"), tmp_path)
    printed, err = proc.communicate(timeout=GUARD_S)
    assert proc.returncode == 0, err
    assert "median: the runner's mean on 2 of 2 rows (it printed no median)" in printed
    assert "2 rows' median is the runner's mean" in printed
    assert "noise unknown" not in printed and "by std/mean" in printed
    shown = start([sys.executable, "-m", "lutnas.cli.main", "lut", "show", str(out)], tmp_path)
    text, err = shown.communicate(timeout=GUARD_S)
    assert shown.returncode == 0, err
    assert "std/mean" in text and "ms*" in text
