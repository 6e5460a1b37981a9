"""Both phone runners end to end: export -> push -> run -> parse -> LUT, through adbutils, the real
adb server and the emulated phone, whose stand-ins print what the real tools print.

``benchmark_model`` gets a ``.tflite`` per workload (run with ai-edge-litert on the host standing
in for the phone); ``onnxruntime_perf_test`` an ``.onnx``. Whole models are timed the same way,
so ``lutnas fit`` and ``lutnas search --verify`` work on a phone LUT.
"""

from __future__ import annotations

import json
import re
import shutil
import stat

import pytest
from contracts import BackendContract
from predictor_fixtures import variants
from test_adb_backend import SPECS

from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.backends.adb import AdbBackend
from profiler.loop import ProfileSettings, layer_workload, profile_layers, profile_models

pytestmark = pytest.mark.adb

SETTINGS = ProfileSettings(
    warmup=1, runs=5, reference_every=0, max_attempts=1, drift_correction=False
)


@pytest.fixture(params=["benchmark_model", "onnxruntime_perf_test"])
def runner(request, benchmark_model_runner, perf_test_runner):
    return benchmark_model_runner if request.param == "benchmark_model" else perf_test_runner


@pytest.fixture
def options(benchmark_model_runner, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "model-cache"  # shared: export each layer once
    return {"runner": benchmark_model_runner, "cache_dir": cache}


class TestBenchmarkModelContract(BackendContract):
    @pytest.fixture
    def backend(self, phone, options):
        with AdbBackend(**options) as backend:
            yield backend


def test_benchmark_model_times_tflite_files_on_the_big_core(phone, options, tmp_path):
    with AdbBackend(**options) as backend:
        with LutStore.create_or_resume(
            tmp_path / "phone.lut", backend.config(), backend.device_info(), SETTINGS.identity()
        ) as store:
            profile_layers(backend, store, SPECS, SETTINGS, progress=False)
    with LutStore.open(tmp_path / "phone.lut") as store:
        cfg = store.backend_config
        rows = store.layers_frame()
    assert cfg["runner"] == "benchmark_model" and cfg["delegate"] == "xnnpack"
    assert cfg["exporter"] != "torchscript" and cfg["runner_own_warmup_runs"] == 0
    assert len(rows) == len(SPECS) and (rows["n"] == SETTINGS.runs).all()
    assert (rows["warmup"] == SETTINGS.warmup).all() and (rows["median_ms"] > 0).all()
    runs = phone.runner_calls("--graph=")
    assert len(runs) == len(SPECS)
    for command in runs:
        assert "taskset 80 " in command and ".tflite" in command
        assert "--use_xnnpack=true" in command and "--num_threads=1" in command
        assert "--num_runs=5" in command and "--warmup_runs=1" in command
    assert phone.files() == []  # the runner and every model were removed


def _renamed(runner, tmp_path, name="runner_bin"):
    copy = tmp_path / name
    shutil.copy(runner, copy)
    copy.chmod(copy.stat().st_mode | stat.S_IXUSR)
    return copy


def test_runner_kind_is_read_from_the_help_text_when_the_name_says_nothing(
    phone, runner, tmp_path_factory, tmp_path
):
    expected = "benchmark_model" if "benchmark_model" in runner.name else "onnxruntime_perf_test"
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    with AdbBackend(runner=_renamed(runner, tmp_path), cache_dir=cache) as backend:
        assert backend.config()["runner"] == expected
        assert backend.measure(layer_workload(SPECS[0]), 1, 3).n == 3
    assert any(c.endswith("runner_bin --help 2>&1") for c in phone.shell_commands)


def test_an_unrecognisable_runner_is_a_clear_error(phone, tmp_path):
    script = tmp_path / "mystery"
    script.write_text("#!/bin/sh\necho 'hello from a tool nobody knows'\n")
    script.chmod(0o755)
    with pytest.raises(LutnasError, match="hello from a tool.*--runner-kind"):
        with AdbBackend(runner=script, cache_dir=tmp_path):
            pass
    assert phone.files() == []  # the pushed binary went with the work directory


@pytest.mark.parametrize("release", ["old", "current"])
def test_both_perf_test_releases_give_the_same_kind_of_row(
    phone, perf_test_runner, release, tmp_path_factory, monkeypatch
):
    monkeypatch.setenv("ADBEMU_PERF_TEST_RELEASE", release)
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    with AdbBackend(runner=perf_test_runner, cache_dir=cache) as backend:
        m = backend.measure(layer_workload(SPECS[2]), 1, 4)
    assert m.n == 4 and m.warmup == 1 and 0 < m.median_ms < 1000


def test_profile_device_times_whole_models_on_the_phone(
    phone, runner, tmp_path, monkeypatch, capsys
):
    from lutnas.cli.profile import main

    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "phone.lut"
    args = [
        "--backend",
        "adb",
        "--runner",
        str(runner),
        "--resolution",
        "64",
        "--arch",
        "mnasnet-a1",
        "--limit",
        "2",
        "--whole-models",
        "2",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--reference-every",
        "0",
        "--ci-tolerance",
        "100",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "whole models: 2 measured" in printed
    with LutStore.open(out) as store:
        models, layers = store.models_frame(), store.layers_frame()
        # 2 of A1's layers, and the whole models' own, profiled first
        assert len(models) == 2 and len(layers) > 2
        assert (models["median_ms"] > 0).all() and (models["n"] == 3).all()
    # one runner call per timing: a row timed again for noise (three runs on a busy machine can
    # spread past --ci-tolerance) counts each of its attempts
    suffix = ".tflite" if "benchmark_model" in runner.name else ".onnx"
    attempts = int(layers["attempts"].sum() + models["attempts"].sum())
    assert attempts >= len(layers) + 2
    assert len(phone.runner_calls(suffix)) == attempts


def _phone_lut(path, backend, archs, extra_layers_of):
    """The layers of ``archs`` and ``extra_layers_of`` (enough rows for the layer estimator)
    and the whole models of ``archs``, timed on the phone."""
    with LutStore.create(
        path, backend.config(), backend.device_info(), SETTINGS.identity()
    ) as store:
        specs = [s for a in [*archs, *extra_layers_of] for s in a.layers()]
        profile_layers(backend, store, specs, SETTINGS, progress=False)
        profile_models(backend, store, archs, SETTINGS, progress=False)


@pytest.mark.slow
def test_fit_and_search_verify_on_a_phone_lut(
    phone_factory, options, perf_test_runner, tmp_path, capsys
):
    import dataclasses

    from lutnas.cli.main import main

    phone = phone_factory()
    archs = [dataclasses.replace(a, resolution=160) for a in variants(12)]
    with AdbBackend(**options) as backend:
        _phone_lut(tmp_path / "phone.lut", backend, archs[:6], archs[6:])
    predictor = tmp_path / "phone.predictor"
    assert main(["fit", "--lut", str(tmp_path / "phone.lut"), "--out", str(predictor)]) == 0
    low, high = json.loads((predictor / "meta.json").read_text())["training"]["latency_range_ms"]
    search = [
        "search",
        "--predictor",
        str(predictor),
        "--target-ms",
        f"{(low + high) / 2:.4f}",
        "--budget",
        "4",
        "--batch-size",
        "4",
        "--workers",
        "1",
        "--evaluator",
        "zero-cost",
        "--evaluator-opt",
        "batch=8",
        "--strategy",
        "random",
        "--out",
        str(tmp_path / "search"),
        "--no-progress",
        "--no-onnx",
        "--verify",
        "2",
    ]
    capsys.readouterr()
    # without the runner: the top K are written out and the message says how to time them
    assert main(search) == 2
    err = capsys.readouterr().err
    assert "verify_archs.json" in err and "--runner" in err
    before = len(phone.runner_calls("--graph="))
    assert main([*search, "--runner", str(options["runner"])]) == 0
    printed = capsys.readouterr().out
    assert "median |error|" in printed and "over 2 architectures" in printed
    # both architectures ran on the phone: two graphs (a noisy timing is re-measured, so a
    # graph may run more than once; the emulated runner really times on this shared host)
    runs = phone.runner_calls("--graph=")[before:]
    graphs = {re.search(r"--graph=(\S+)", c).group(1) for c in runs}
    assert len(graphs) == 2, graphs
    # refused before the search starts (nothing is evaluated, no record is made): another
    # phone, whose measurements would not test this predictor, and a runner of another kind,
    # by its name or, when the name says nothing, by its --help on the phone
    other = phone_factory()
    fresh = [*search[:-6], "--out", str(tmp_path / "refused"), *search[-4:]]
    assert fresh[-2:] == ["--verify", "2"]
    assert main([*fresh, "--runner", str(options["runner"]), "--serial", other.address]) == 2
    assert "not the phone and runner the LUT was measured with" in capsys.readouterr().err
    assert main([*fresh, "--runner", str(perf_test_runner), "--serial", phone.address]) == 2
    assert "is onnxruntime_perf_test by its name" in capsys.readouterr().err
    nameless = _renamed(perf_test_runner, tmp_path)
    assert main([*fresh, "--runner", str(nameless), "--serial", phone.address]) == 2
    err = capsys.readouterr().err
    assert "runner: LUT 'benchmark_model', here 'onnxruntime_perf_test'" in err
    assert not (tmp_path / "refused").exists()
