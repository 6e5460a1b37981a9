"""int8 and fp16 LUTs on the host's LiteRT backend, and precision as part of a LUT's identity:
recorded, shown, refused on resume and merge, old files read as fp32, and the backends that time
fp32 only saying so in one line."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from lut.export import merge
from lut.store import LutStore
from lutnas.cli.lut import run as lut_run
from lutnas.cli.main import main as lutnas_main
from lutnas.cli.profile import main as profile_main
from lutnas.errors import LutnasError
from profiler.backends.litert import LiteRtBackend
from profiler.backends.litert_fp16 import fp16_problem

FAST = ["--runs", "3", "--warmup", "1", "--reference-every", "0", "--no-progress"]
SMALL = ["--backend", "litert", "--resolution", "64", "--limit", "4", *FAST]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))


def test_int8_lut_with_whole_models_on_litert(tmp_path, capsys):
    out = tmp_path / "int8.lut"
    args = [*SMALL, "--precision", "int8", "--whole-models", "2", "--out", str(out)]
    assert profile_main(args) == 0
    with LutStore.open(out, writable=False) as store:
        config = store.backend_config
        assert config["precision"] == "int8" and config["delegate"] == "xnnpack"
        assert config["tflite_int8_version"] >= 1 and config["calibration_samples"] > 0
        assert len(store.model_keys()) == 2 and store.layer_count() >= 4
    capsys.readouterr()
    assert lutnas_main(["lut", "show", str(out)]) == 0
    assert "precision: int8, xnnpack delegate" in capsys.readouterr().out


def test_fp16_lut_or_the_reason_this_host_cannot(tmp_path, capsys):
    out = tmp_path / "fp16.lut"
    code = profile_main([*SMALL, "--precision", "fp16", "--whole-models", "1", "--out", str(out)])
    problem = fp16_problem()
    if problem:  # a CPU XNNPACK has no fp16 for: refused with the reason
        assert code == 2 and problem in capsys.readouterr().err
        return
    assert code == 0
    with LutStore.open(out, writable=False) as store:
        assert store.backend_config["precision"] == "fp16"
        assert store.backend_config["runtime"] == "compiled_model"
        assert len(store.model_keys()) == 1


def test_resume_and_merge_refuse_another_precision(tmp_path, capsys):
    fp32, int8 = tmp_path / "fp32.lut", tmp_path / "int8.lut"
    assert profile_main([*SMALL, "--limit", "2", "--out", str(fp32)]) == 0
    assert profile_main([*SMALL, "--limit", "2", "--precision", "int8", "--out", str(int8)]) == 0
    capsys.readouterr()
    assert profile_main([*SMALL, "--limit", "2", "--precision", "int8", "--out", str(fp32)]) == 2
    err = capsys.readouterr().err
    assert "another backend configuration" in err and "precision: file has 'fp32'" in err
    with pytest.raises(LutnasError, match="precision: fp32.lut has 'fp32', int8.lut 'int8'"):
        merge(tmp_path / "both.lut", [fp32, int8])


def test_delegate_none_is_another_configuration(tmp_path, capsys):
    out = tmp_path / "a.lut"
    assert profile_main([*SMALL, "--limit", "1", "--precision", "int8", "--out", str(out)]) == 0
    args = [*SMALL, "--limit", "1", "--precision", "int8", "--delegate", "none", "--out", str(out)]
    assert profile_main(args) == 2
    assert "delegate: file has 'xnnpack', this run 'none'" in capsys.readouterr().err


def test_a_lut_from_before_precisions_resumes_as_fp32(tmp_path, capsys):
    out = tmp_path / "old.lut"
    assert profile_main([*SMALL, "--limit", "1", "--out", str(out)]) == 0
    con = sqlite3.connect(out)  # make it an older file: no precision in its configuration
    (value,) = con.execute("SELECT value FROM meta WHERE key = 'backend_config'").fetchone()
    config = json.loads(value)
    del config["precision"]
    con.execute("UPDATE meta SET value = ? WHERE key = 'backend_config'", (json.dumps(config),))
    con.commit()
    con.close()
    with LutStore.open(out, writable=False) as store:
        assert store.backend_config["precision"] == "fp32"
    assert profile_main([*SMALL, "--limit", "2", "--out", str(out)]) == 0
    assert "1 already in the file" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--precision", "int8"], "the onnxruntime backend times fp32 only, not int8"),
        (["--backend", "torch", "--precision", "fp16"], "the torch backend times fp32 only"),
        (["--backend", "torch", "--delegate", "gpu"], "the torch backend has none"),
        (["--backend", "litert", "--delegate", "nnapi"], "timed on a phone with --backend adb"),
        (
            ["--backend", "litert", "--precision", "fp16", "--delegate", "none"],
            "--precision fp16 needs --delegate xnnpack",
        ),
    ],
)
def test_what_a_backend_cannot_time_is_one_error_line(tmp_path, capsys, args, message):
    assert profile_main([*args, "--limit", "1", "--out", str(tmp_path / "x.lut")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "x.lut").exists()


def test_backend_from_config_keeps_precision_and_delegate():
    backend = LiteRtBackend(precision="int8", delegate="none")
    again = LiteRtBackend.from_config(backend.config())
    assert again.config() == backend.config()
    assert again.precision == "int8" and again.delegate == "none"


def test_lut_show_of_an_fp32_lut_says_so(tmp_path, capsys):
    out = tmp_path / "a.lut"
    assert profile_main(["--limit", "1", *FAST, "--resolution", "64", "--out", str(out)]) == 0
    capsys.readouterr()
    assert (
        lut_run(
            type(
                "A", (), {"lut_command": "show", "lut": str(out), "space": "mnasnet", "noisiest": 1}
            )()
        )
        == 0
    )
    assert "precision: fp32\n" in capsys.readouterr().out  # onnxruntime: no delegate


def test_the_fp16_probe_tells_fp16_rounding_from_an_ignored_flag():
    from profiler.backends.litert_fp16 import fp16_verdict

    out = np.linspace(-3, 3, 64, dtype=np.float32)
    assert fp16_verdict(out, out.astype(np.float16).astype(np.float32) + 1e-3) is None
    assert "ignored its fp16 flag" in fp16_verdict(out, out.copy())
    assert "not fp16 rounding" in fp16_verdict(out, out * 1.5)


# --- predictors carry precision; a prior of another precision is the transfer case ----------


@pytest.mark.slow
def test_fit_on_int8_lut_and_an_fp32_prior_calibrated_to_it(predictor_path, tmp_path, caplog):
    """fit on an int8 LUT makes an int8 predictor; the fp32 fixture predictor calibrated with the
    int8 LUT's whole models (fit --prior) is allowed, says why it is less sure, and predicts
    int8."""
    from predictor import LatencyPredictor

    lut = tmp_path / "int8.lut"
    args = ["--backend", "litert", "--precision", "int8", "--resolution", "160", *FAST]
    assert profile_main([*args, "--no-layers", "--whole-models", "4", "--out", str(lut)]) == 0
    out = tmp_path / "int8.predictor"
    with caplog.at_level("WARNING"):
        code = lutnas_main(
            ["fit", "--lut", str(lut), "--prior", str(predictor_path), "--out", str(out)]
        )
    assert code == 0
    assert any(
        "a prior of another precision (the transfer case)" in r.getMessage() for r in caplog.records
    )
    target = LatencyPredictor.load(out)
    assert target.backend_config["precision"] == "int8"
    assert target.backend_config["delegate"] == "xnnpack"
    assert target.backend_config["calibrated_from"]["precision"] == "fp32"
    assert LatencyPredictor.load(predictor_path).backend_config["precision"] == "fp32"


def test_calibrate_with_measurements_of_another_precision_warns(
    predictor_path, tmp_path, capsys, caplog
):
    import dataclasses

    from predictor_fixtures import variants
    from test_search_fixtures import RESOLUTION

    from lutnas.spaces.io import save_archs
    from predictor import LatencyPredictor

    rows = ["model,resolution,latency_ms"]
    for i, arch in enumerate(variants(12)[:4]):
        path = tmp_path / f"a{i}.json"
        save_archs(path, [dataclasses.replace(arch, resolution=RESOLUTION)])
        rows.append(f"{path.name},{RESOLUTION},{2.0 + i}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "t.predictor"
    base = [
        "calibrate",
        "--predictor",
        str(predictor_path),
        "--measurements",
        str(tmp_path / "m.csv"),
    ]
    with caplog.at_level("WARNING"):
        assert lutnas_main([*base, "--device", "P", "--precision", "int8", "--out", str(out)]) == 0
    assert any("measurements are int8" in r.getMessage() for r in caplog.records)
    assert LatencyPredictor.load(out).backend_config["precision"] == "int8"
    caplog.clear()
    with caplog.at_level("WARNING"):  # the predictor's own precision: nothing to say
        assert lutnas_main([*base, "--device", "P", "--out", str(tmp_path / "u.predictor")]) == 0
    assert not any("precision" in r.getMessage() for r in caplog.records)


# --- the phone file ------------------------------------------------------------------------------


@pytest.mark.parametrize("precision,dtype", [("int8", np.int8), ("fp32", np.float32)])
def test_lutnas_export_writes_the_file_and_the_command_that_times_it(
    tmp_path, capsys, precision, dtype
):
    from ai_edge_litert.interpreter import Interpreter

    out = tmp_path / "a1.tflite"
    args = ["export", "--arch", "mnasnet-a1", "--resolution", "96", "--precision", precision]
    assert lutnas_main([*args, "--out", str(out)]) == 0
    interpreter = Interpreter(model_path=str(out))
    (inp,) = interpreter.get_input_details()
    assert inp["dtype"] == dtype and list(inp["shape"]) == [1, 96, 96, 3]
    printed = capsys.readouterr().out
    assert f"({precision}, xnnpack delegate)" in printed
    assert "benchmark_model --graph=/data/local/tmp/a1.tflite" in printed


def test_lutnas_export_gpu_fp16_command_and_bad_input(tmp_path, capsys):
    out = tmp_path / "b.tflite"
    args = ["export", "--arch", "mnasnet-a1", "--resolution", "96", "--precision", "fp16"]
    assert lutnas_main([*args, "--delegate", "gpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "--use_gpu=true --gpu_precision_loss_allowed=true" in printed
    assert lutnas_main([*args, "--delegate", "none", "--out", str(out)]) == 2
    assert "needs a delegate with an fp16 mode" in capsys.readouterr().err
    assert lutnas_main([*args, "--out", str(tmp_path / "b.onnx")]) == 2
    assert "must name a .tflite file" in capsys.readouterr().err


def test_lutnas_export_of_a_space_files_network(tmp_path, capsys):
    """A network of a space file (ReLU6, h-swish, SE, zero layers) as an int8 phone file: named
    from the file with --space; without it the name is unknown, said in one line."""
    from ai_edge_litert.interpreter import Interpreter
    from space_fixtures import write_space

    space = write_space(tmp_path)
    out = tmp_path / "tiny.tflite"
    args = ["export", "--arch", "tiny-a", "--precision", "int8", "--out", str(out)]
    assert lutnas_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "tiny-a" in err[0]
    assert lutnas_main([*args, "--space", str(space)]) == 0
    assert "tiny@32:c16_k3e2-k5e4|c24_k3e4 at 32x32" in capsys.readouterr().out
    (inp,) = Interpreter(model_path=str(out)).get_input_details()
    assert inp["dtype"] == np.int8 and list(inp["shape"]) == [1, 32, 32, 3]


def test_search_writes_the_phone_file_in_the_predictors_precision(predictor_path, tmp_path, capsys):
    import json

    from ai_edge_litert.interpreter import Interpreter
    from test_search_fixtures import search_args

    out = tmp_path / "s"
    assert lutnas_main(search_args(predictor_path, out, budget=4)) == 0
    assert "phone file:" in capsys.readouterr().out
    phone = json.loads((out / "summary.json").read_text())["phone_file"]
    assert phone == {"precision": "fp32", "delegate": "xnnpack", "file": "best_arch.tflite"}
    (inp,) = Interpreter(model_path=str(out / "best_arch.tflite")).get_input_details()
    r = json.loads((out / "best_arch.json").read_text())["resolution"]
    assert inp["dtype"] == np.float32 and list(inp["shape"]) == [1, r, r, 3]
    out2 = tmp_path / "s2"
    assert lutnas_main(search_args(predictor_path, out2, "--no-tflite", budget=4)) == 0
    assert not (out2 / "best_arch.tflite").exists()
    assert "phone_file" not in json.loads((out2 / "summary.json").read_text())
