"""The adb backend end to end: adbutils -> the real adb server -> an emulated phone on loopback,
which runs the stand-in onnxruntime_perf_test on each pushed ONNX file.

Marker ``adb``; the fixtures come from :mod:`adbemu.fixtures` (imported by conftest.py).
"""

from __future__ import annotations

import os
import shutil

import pytest
from adbemu.profile import DeviceProfile
from contracts import BackendContract

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.adb.thermal import CoolingPolicy
from profiler.backends.adb import AdbBackend
from profiler.base import BackendError, DeviceLostError, get_backend
from profiler.loop import ProfileSettings, layer_workload, profile_layers
from profiler.multi import profile_phones

pytestmark = pytest.mark.adb

# small layers: cheap to export and to time on the host standing in for the phone
SPECS = [
    LayerSpec(
        op="mbconv",
        kernel=3,
        expansion=3,
        se_ratio=0.0,
        skip="idskip",
        act="relu",
        cin=16,
        cout=16,
        stride=1,
        input_h=14,
        input_w=14,
    ),
    LayerSpec(
        op="mbconv",
        kernel=5,
        expansion=6,
        se_ratio=0.25,
        skip="noskip",
        act="relu",
        cin=16,
        cout=24,
        stride=2,
        input_h=14,
        input_w=14,
    ),
    LayerSpec(
        op="dconv",
        kernel=3,
        expansion=1,
        se_ratio=0.0,
        skip="noskip",
        act="relu",
        cin=16,
        cout=16,
        stride=1,
        input_h=14,
        input_w=14,
    ),
    LayerSpec(
        op="conv",
        kernel=3,
        expansion=1,
        se_ratio=0.0,
        skip="poolskip",
        act="relu",
        cin=8,
        cout=16,
        stride=2,
        input_h=16,
        input_w=16,
    ),
    LayerSpec(
        op="mbconv",
        kernel=3,
        expansion=6,
        se_ratio=0.0,
        skip="noskip",
        act="hswish",
        cin=24,
        cout=32,
        stride=1,
        input_h=7,
        input_w=7,
    ),
    LayerSpec(
        op="dconv",
        kernel=5,
        expansion=1,
        se_ratio=0.25,
        skip="idskip",
        act="relu6",
        cin=24,
        cout=24,
        stride=1,
        input_h=7,
        input_w=7,
    ),
]
SETTINGS = ProfileSettings(  # phones time a workload in one go: no interleaved reference
    warmup=1, runs=5, reference_every=0, max_attempts=1, drift_correction=False
)


@pytest.fixture
def backend_options(perf_test_runner, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "onnx-cache"  # shared: export each layer once
    return {"runner": perf_test_runner, "cache_dir": cache}


def test_no_phone_is_a_clear_error(phone_factory, backend_options):
    with pytest.raises(LutnasError, match="no phone attached.*adb connect"):
        with AdbBackend(**backend_options):
            pass


def test_several_phones_need_a_serial(phone_factory, backend_options):
    a, b = phone_factory(), phone_factory()
    with pytest.raises(LutnasError, match="2 phones attached.*--serial") as err:
        with AdbBackend(**backend_options):
            pass
    assert a.address in str(err.value) and b.address in str(err.value)
    with pytest.raises(LutnasError, match="not attached"):
        with AdbBackend(serial="R58M1234XYZ", **backend_options):
            pass
    with AdbBackend(serial=b.address, **backend_options) as backend:
        assert backend.device_info()["adb_serial"] == b.address
    assert b.shell_commands and len(a.shell_commands) == 0


def test_missing_runner_says_what_to_do(tmp_path):
    with pytest.raises(LutnasError, match="--runner"):
        AdbBackend(runner=tmp_path / "nope")


def test_metadata_recorded_in_the_lut(phone, backend_options, tmp_path):
    with AdbBackend(**backend_options) as backend:
        with LutStore.create_or_resume(
            tmp_path / "phone.lut", backend.config(), backend.device_info(), SETTINGS.identity()
        ) as store:
            profile_layers(backend, store, SPECS[:2], SETTINGS, progress=False)
    with LutStore.open(tmp_path / "phone.lut") as store:
        cfg, dev = store.backend_config, store.device
        assert store.layer_keys() == {s.key for s in SPECS[:2]}
        rows = store.layers_frame()
    props = phone.profile.props
    assert cfg["backend"] == "adb" and cfg["runner"] == "onnxruntime_perf_test"
    assert cfg["device"] == f"{props['ro.product.manufacturer']} {props['ro.product.model']}"
    assert cfg["soc"] == props["ro.soc.model"] and cfg["abi"] == props["ro.product.cpu.abi"]
    assert cfg["threads"] == 1 and cfg["cpu_mask"] == "80"
    assert cfg["runner_version"].startswith("usage-") and len(dev["runner_sha256"]) == 64
    assert dev["cpu_possible"] == list(range(8)) and dev["cpu_online"] == list(range(8))
    assert cfg["device_serial"] == props["ro.serialno"]
    assert dev["props"]["ro.board.platform"] == props["ro.board.platform"]
    assert dev["props"]["ro.build.version.release"] == props["ro.build.version.release"]
    assert dev["cpu_max_freq_khz"]["7"] == phone.profile.max_freq_khz[7]
    assert [c["cpus"] for c in dev["clusters"]] == [[0, 1, 2, 3], [4, 5, 6], [7]]
    assert (rows["n"] == SETTINGS.runs).all() and (rows["median_ms"] > 0).all()
    assert rows["p10_ms"].notna().all()  # per-run times came back from the result file
    assert phone.files() == []  # the runner and every model were removed


def test_taskset_mask_follows_the_frequencies(phone_factory, backend_options):
    # the fastest core is cpu5 here, not the last one
    freqs = (1800000,) * 4 + (2400000, 3000000, 2400000, 2400000)
    phone = phone_factory(DeviceProfile(max_freq_khz=freqs))
    with AdbBackend(**backend_options) as backend:
        backend.measure(layer_workload(SPECS[0]), 1, 3)
        assert backend.config()["cpu_mask"] == "20"
    with AdbBackend(cpu_mask="c0", **backend_options) as backend:
        backend.measure(layer_workload(SPECS[0]), 1, 3)
    with AdbBackend(threads=2, **backend_options) as backend:
        backend.measure(layer_workload(SPECS[0]), 1, 3)
    assert phone.taskset_masks() == ["20", "c0", "a0"]  # cpu5, then the last 2.4 GHz core


def test_disconnect_then_resume_loses_and_duplicates_nothing(
    phone, adb_server, backend_options, tmp_path
):
    out = tmp_path / "resume.lut"
    phone.faults.drop_after, phone.faults.drop_count_match = 3, "perf_test -e"

    def run() -> None:  # one layer per shell (batches: test_adb_batch.py)
        with AdbBackend(batch_size=1, **backend_options) as backend:
            with LutStore.create_or_resume(
                out, backend.config(), backend.device_info(), SETTINGS.identity()
            ) as store:
                profile_layers(backend, store, SPECS, SETTINGS, progress=False)

    with pytest.raises(DeviceLostError, match="run the same command again") as err:
        run()
    assert phone.address in str(err.value)
    with LutStore.open(out) as store:
        first = store.layers_frame().set_index("key")
    assert len(first) == 3

    adb_server.reattach(phone)
    run()
    with LutStore.open(out) as store:
        rows = store.layers_frame().set_index("key")
    assert sorted(rows.index) == sorted(s.key for s in SPECS)  # complete, one row per layer
    assert rows.loc[first.index, "measured_at"].tolist() == first["measured_at"].tolist()
    assert rows.loc[first.index, "median_ms"].tolist() == first["median_ms"].tolist()
    runs = [c for c in phone.shell_commands if "perf_test -e" in c]
    assert len(runs) == 3 + 1 + 3  # 3 timed, 1 cut off by the drop, the other 3 after resuming


def test_throttled_phone_pauses_until_cool(phone, backend_options):
    pauses = []

    def sleep(seconds: float) -> None:  # the phone cools while we wait
        pauses.append(seconds)
        phone.unthrottle()

    phone.throttle(0.6)
    cooling = CoolingPolicy(step_s=7.0, max_wait_s=60.0)
    with AdbBackend(cooling=cooling, sleep=sleep, check_every=2, **backend_options) as backend:
        for spec in SPECS[:2]:  # one batch: checked (and cooled) before its first layer
            backend.measure(layer_workload(spec), 1, 3)
        phone.set_temperature(1, 88.0)  # a hot zone between batches ...
        sleep_calls_before = len(pauses)
        pauses_cool_zone = []

        def cool_zone(seconds: float) -> None:
            pauses_cool_zone.append(seconds)
            phone.set_temperature(1, 40.0)

        backend.sleep = cool_zone
        backend.measure(layer_workload(SPECS[2]), 1, 3)
        log = list(backend.thermal_log)
    assert pauses == [7.0] and sleep_calls_before == 1
    assert log[0]["paused_s"] == 7.0  # logged after cooling: the cap is back at max
    assert log[0]["cap_freq_khz"]["7"] == phone.profile.max_freq_khz[7]
    assert pauses_cool_zone == [7.0]  # ... is a pause at the next batch boundary
    assert [e["paused_s"] for e in log] == [7.0, 7.0]
    assert not any(e["still_throttled"] for e in log)


def test_cooling_gives_up_after_max_wait(phone, backend_options):
    pauses = []
    phone.throttle(0.5)
    cooling = CoolingPolicy(step_s=5.0, max_wait_s=15.0)
    with AdbBackend(cooling=cooling, sleep=pauses.append, **backend_options) as backend:
        m = backend.measure(layer_workload(SPECS[0]), 1, 3)
        entry = backend.thermal_log[0]
    assert pauses == [5.0, 5.0, 5.0] and m.median_ms > 0
    assert entry["still_throttled"] and "cpu7 capped" in entry["still_throttled"][0]


@pytest.mark.parametrize("fault, message", [("crash", "SIGSEGV"), ("garbage", "unreadable output")])
def test_runner_failure_names_the_layer(phone, backend_options, fault, message):
    with AdbBackend(**backend_options) as backend:
        phone.faults.runner = fault
        with pytest.raises(BackendError, match=message) as err:
            backend.measure(layer_workload(SPECS[1]), 1, 3)
        assert SPECS[1].key in str(err.value) and not isinstance(err.value, DeviceLostError)
        phone.faults.runner = None
        assert backend.measure(layer_workload(SPECS[1]), 1, 3).n == 3  # still usable


def test_two_phones_in_parallel_each_get_a_complete_lut(phone_factory, backend_options, tmp_path):
    phones = [phone_factory(), phone_factory()]
    outcomes = profile_phones(
        [p.address for p in phones],
        lambda s: AdbBackend(serial=s, **backend_options),
        tmp_path / "phones.lut",
        SETTINGS.identity(),
        lambda b, store: profile_layers(b, store, SPECS[:3], SETTINGS, progress=False),
    )
    assert [o.error for o in outcomes] == [None, None]
    assert len({o.out for o in outcomes}) == 2
    for phone, outcome in zip(phones, outcomes, strict=True):
        with LutStore.open(outcome.out) as store:
            assert store.layer_keys() == {s.key for s in SPECS[:3]}
            assert store.backend_config["device_serial"] == phone.profile.props["ro.serialno"]
        assert len(phone.runner_calls("perf_test -e")) == 3


def test_a_lost_phone_does_not_stop_the_other(phone_factory, backend_options, tmp_path):
    good, bad = phone_factory(), phone_factory()
    bad.faults.drop_after, bad.faults.drop_count_match = 1, "perf_test -e"
    outcomes = profile_phones(
        [good.address, bad.address],
        lambda s: AdbBackend(serial=s, batch_size=1, **backend_options),
        tmp_path / "{serial}.lut",
        SETTINGS.identity(),
        lambda b, store: profile_layers(b, store, SPECS[:3], SETTINGS, progress=False),
    )
    assert outcomes[0].ok and outcomes[1].lost and "resume" in outcomes[1].error
    with LutStore.open(outcomes[0].out) as store:
        assert store.layer_count() == 3
    with LutStore.open(outcomes[1].out) as store:
        assert store.layer_count() == 1


def cli_args(runner, out, *extra: str) -> list[str]:
    return [
        "--backend",
        "adb",
        "--runner",
        str(runner),
        "--space",
        "mnasnet",
        "--resolution",
        "224",
        "--arch",
        "mnasnet-a1",
        "--limit",
        "3",
        "--runs",
        "5",
        "--warmup",
        "1",
        "--reference-every",
        "0",
        "--ci-tolerance",
        "100",  # 1 run per row
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def test_profile_device_command_fills_and_resumes_a_phone_lut(
    phone, adb_server, perf_test_runner, tmp_path, monkeypatch, capsys
):
    from lutnas.cli.profile import main

    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "pixel.lut"
    # the 3 layers are one batch: the phone goes away as the third one's runner starts
    phone.faults.cut_at, phone.faults.cut_after = "Session creation time cost", 2
    assert main(cli_args(perf_test_runner, out)) == 2
    err = capsys.readouterr().err
    assert "lost phone" in err and "run the same command again" in err
    adb_server.reattach(phone)
    assert main(cli_args(perf_test_runner, out)) == 0
    printed = capsys.readouterr().out
    assert "1 measured" in printed and "2 already in the file" in printed
    with LutStore.open(out) as store:
        assert store.layer_count() == 3 and store.backend_config["backend"] == "adb"


def test_profile_device_command_with_two_serials(
    phone_factory, perf_test_runner, tmp_path, monkeypatch, capsys
):
    from lutnas.cli.profile import main

    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    a, b = phone_factory(), phone_factory()
    out = tmp_path / "{serial}.lut"
    assert main(cli_args(perf_test_runner, out, "--serial", a.address, "--serial", b.address)) == 0
    for phone in (a, b):
        with LutStore.open(tmp_path / f"{phone.profile.props['ro.serialno']}.lut") as store:
            assert store.layer_count() == 3
    assert "profiling 2 phones in parallel" in capsys.readouterr().out


class TestAdbContract(BackendContract):
    @pytest.fixture
    def backend(self, phone, backend_options):
        with AdbBackend(**backend_options) as backend:
            yield backend


def test_registry_builds_the_adb_backend(backend_options):
    backend = get_backend("adb", **backend_options)
    assert isinstance(backend, AdbBackend) and backend.threads == 1


@pytest.mark.device
def test_real_phone_times_a_layer(tmp_path):
    """Runs only with a real phone: set LUTNAS_TEST_RUNNER to the benchmark binary built for it
    (benchmark_model or onnxruntime_perf_test; tests/README.md)."""
    runner = os.environ.get("LUTNAS_TEST_RUNNER")
    if not runner or shutil.which("adb") is None:
        pytest.skip("needs a real phone and LUTNAS_TEST_RUNNER=/path/to/benchmark_model")
    import socket

    from profiler.adb.client import AdbClient, server_address

    with socket.socket() as s:  # never start a server here: only use one that runs
        if s.connect_ex(server_address()) != 0:
            pytest.skip("no adb server running (start it with `adb start-server`)")
    ready = [s for s, state in AdbClient().devices().items() if state == "device"]
    if not ready:
        pytest.skip("no real phone attached")
    with AdbBackend(serial=ready[0], runner=runner, cache_dir=tmp_path) as backend:
        m = backend.measure(layer_workload(SPECS[0]), 5, 20)
        assert m.n == 20 and 0 < m.median_ms < 1000
        assert backend.config()["device"]
