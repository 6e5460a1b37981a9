"""``lutnas search`` from the command line: clear errors (T outside the predictor's range, a
predictor from another space, bad options, another configuration), the outputs and
``--verify`` (real onnxruntime measurements)."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
import torch
from predictor_fixtures import read_meta, write_meta
from test_search_fixtures import middle_target_ms, search_args

from lutnas.cli.main import main
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from search.pareto import pareto_front
from search.record import HistoryRow
from search.verify import verify_top


def _range(predictor):
    return json.loads((predictor / "meta.json").read_text())["training"]["latency_range_ms"]


@pytest.mark.parametrize("where", ["above", "below"])
def test_a_target_outside_the_predictor_range_is_refused(where, predictor_path, tmp_path, capsys):
    low, high = _range(predictor_path)
    target = high * 3 if where == "above" else low / 3
    assert main(search_args(predictor_path, tmp_path, target=target)) == 2
    err = capsys.readouterr().err
    assert (
        f"target T={target:g} ms lies outside the latencies the predictor was fitted on "
        f"({low:.3f}-{high:.3f} ms" in err
    )
    assert "Choose T in that range" in err
    assert not (tmp_path / "search.sqlite").exists()


def test_a_predictor_from_another_space_is_refused(predictor_path, tmp_path, capsys):
    other = tmp_path / "other.predictor"
    shutil.copytree(predictor_path, other)
    meta = read_meta(other)
    meta["training"]["spaces"] = ["mobilenetv3-large"]
    write_meta(other, meta)
    assert main(search_args(other, tmp_path / "out", target=middle_target_ms(predictor_path))) == 2
    err = capsys.readouterr().err
    assert "fitted on architectures of space(s) mobilenetv3-large, not 'mnasnet'" in err
    assert "profile-device --space mnasnet" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--reward", "hard", "--alpha", "-0.1"], "fixes alpha and beta"),
        (["--reward", "custom", "--alpha", "-0.1"], "needs both alpha and beta"),
        (["--evaluator", "callable"], "needs --evaluator-arg MODULE:FUNCTION"),
        (["--evaluator-arg", "x:y"], "--evaluator-arg is for --evaluator callable"),
        (
            ["--evaluator", "callable", "--evaluator-arg", "test_search_fixtures:fake_accuracy"],
            "bad option for evaluator 'callable'",
        ),  # the zero-cost batch option given to it
        (["--strategy-opt", "population=3"], "bad option for strategy 'evolution'"),
        (["--strategy-opt", "population_size"], "is not KEY=VALUE"),
        (["--evaluator-opt", "colour=1"], "bad option for evaluator 'zero-cost'"),
        (["--budget", "0"], "--budget must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--space", "nope"], "unknown search space 'nope'"),
        (["--resolution", "200"], "--resolution 200: space 'mnasnet' searches 160, 192, 224"),
    ],
)
def test_bad_options_are_clear_errors(extra, message, predictor_path, tmp_path, capsys):
    assert main([*search_args(predictor_path, tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


def test_an_unloadable_callable_is_a_clear_error(predictor_path, tmp_path, capsys):
    args = search_args(
        predictor_path, tmp_path, "--evaluator-arg", "no_such_module:f", evaluator=("callable",)
    )
    assert main(args) == 2
    assert "cannot load evaluator 'no_such_module:f'" in capsys.readouterr().err


def test_a_missing_predictor_is_a_clear_error(tmp_path, capsys):
    assert main(search_args(tmp_path / "none.predictor", tmp_path, target=5)) == 2
    assert "no predictor at" in capsys.readouterr().err


def _read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_outputs_verify_and_resume_from_the_command_line(predictor_path, tmp_path, capsys):
    out = tmp_path / "search"
    assert main(search_args(predictor_path, out, "--verify", "2")) == 0
    printed = capsys.readouterr().out
    assert "8 candidates in" in printed and "best: reward" in printed

    candidates = _read_csv(out / "candidates.csv")
    assert len(candidates) == 8
    distinct = {c["arch_key"]: c for c in reversed(candidates)}
    acc = np.array([float(c["zero_cost_score"]) for c in distinct.values()])  # not "accuracy"
    lat = np.array([float(c["latency_ms"]) for c in distinct.values()])
    expected = {list(distinct)[i] for i in pareto_front(acc, lat)}
    front = _read_csv(out / "pareto.csv")
    assert {r["arch_key"] for r in front} == expected
    assert [float(r["latency_ms"]) for r in front] == sorted(float(r["latency_ms"]) for r in front)
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["is_proxy"] and "not an accuracy" in pareto["score"]
    assert [Arch.from_dict(r["arch"]).key for r in pareto["front"]] == [
        r["arch_key"] for r in front
    ]
    assert pareto["hypervolume"]["value"] > 0
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    best = max(candidates, key=lambda c: float(c["reward"]))
    arch = Arch.from_json((out / "best_arch.json").read_text())
    assert arch.key == best["arch_key"]
    with torch.no_grad():  # the documented rebuild
        assert arch.build(num_classes=10).eval()(torch.zeros(arch.input_shape)).shape == (1, 10)
    session = ort.InferenceSession(str(out / "best_arch.onnx"), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.zeros(arch.input_shape, np.float32)}
    assert session.run(None, feed)[0].shape == (1, 1000)

    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if "predicted ms" in line)
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    for rank, row in enumerate(rows):
        assert int(row[0]) == rank and float(row[2]) > 0 and float(row[3]) > 0
    assert "median |error|" in lines[header + 3]

    # the same command again: nothing left to evaluate, outputs rewritten
    assert main(search_args(predictor_path, out)) == 0
    again = capsys.readouterr().out
    assert "resuming at 8" in again and "evaluating on" not in again
    # another configuration on the same record is refused, naming the difference
    assert main([*search_args(predictor_path, out), "--seed", "3"]) == 2
    assert "strategy.seed: record has 0, this run 3" in capsys.readouterr().err


def test_resolution_restricts_the_search_and_is_part_of_its_configuration(
    predictor_path, tmp_path, capsys
):
    out = tmp_path / "search224"
    assert main([*search_args(predictor_path, out, budget=4), "--resolution", "224"]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'pareto.csv'}" in printed and "candidates.csv (every candidate)" in printed
    candidates = _read_csv(out / "candidates.csv")
    assert len(candidates) == 4
    assert {c["arch_key"].split(":")[0] for c in candidates} == {"mnasnet@224"}
    # resuming with other resolutions (or none) is refused like any other configuration change
    assert main([*search_args(predictor_path, out, budget=4), "--resolution", "192"]) == 2
    assert "resolutions" in capsys.readouterr().err
    assert main(search_args(predictor_path, out, budget=4)) == 2


def test_verify_on_a_phone_lut_writes_the_archs_and_says_how(tmp_path):
    arch = Arch.from_tokens("mnasnet", [0] * 43)
    row = HistoryRow(
        seq=0,
        batch=0,
        position=0,
        tokens=tuple([0] * 43),
        arch_key=arch.key,
        arch_json=arch.to_json(),
        accuracy=0.5,
        latency_ms=3.0,
        reward=0.5,
        reused=False,
    )
    with pytest.raises(LutnasError, match="cannot re-create here.*verify_archs.json"):
        verify_top([row], 1, {"backend": "adb", "threads": 1}, {"warmup": 1, "runs": 2}, tmp_path)
    assert (
        Arch.from_dict(json.loads((tmp_path / "verify_archs.json").read_text())["archs"][0]) == arch
    )
