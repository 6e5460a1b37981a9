"""A space of one's own, end to end: a small space file made here is profiled (host; the phone
path in ``test_space_on_the_phone``), its whole models timed, a predictor fitted, architectures
predicted, searched (every strategy and evaluator, resumed, verified) and the predictor
calibrated, from the command line and from Python. ProxylessNAS's space, shipped only as a file,
profiles and searches too."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from space_fixtures import QUICK_PROFILE, TINY, TINY_FACTORIZED, write_space
from test_search_fixtures import fake_accuracy, middle_target_ms, search_args

from lut.store import LutStore
from lutnas.cli.main import main
from lutnas.spaces import load_space
from lutnas.spaces.arch import Arch
from lutnas.spaces.io import save_archs
from lutnas.spaces.named import get_named_arch
from lutnas.spaces.registry import isolated_spaces
from lutnas.spaces.sampling import sample_archs


def _profile(space, out, *extra: str) -> list[str]:
    return ["profile-device", "--space", str(space), "--out", str(out), *QUICK_PROFILE, *extra]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny space's file, a LUT of its layers at 32 and 48 px with 12 whole models, and a
    predictor fitted on it, all made from the command line."""
    where = tmp_path_factory.mktemp("tiny")
    space = write_space(where, TINY)
    lut, predictor = where / "tiny.lut", where / "tiny.predictor"
    with isolated_spaces():
        res = ["--resolution", "32", "--resolution", "48"]
        assert main(_profile(space, lut, *res, "--whole-models", "12")) == 0
        assert main(["fit", "--lut", str(lut), "--out", str(predictor)]) == 0
    return {"dir": where, "space": space, "lut": lut, "predictor": predictor}


def test_profile_whole_models_and_resume_from_the_command_line(tiny, capsys):
    assert main(["profile-device", "--space", str(tiny["space"]), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("resolution 48: 15 unique layers\n")  # its largest
    res = ["--resolution", "32", "--resolution", "48"]
    assert main(_profile(tiny["space"], tiny["lut"], *res, "--whole-models", "12")) == 0
    out = capsys.readouterr().out
    assert "layers: 0 measured (0 re-measured for noise), 29 already in the file" in out
    assert "whole models: 0 measured (0 re-measured for noise), 12 already in the file" in out
    with LutStore.open(tiny["lut"], writable=False) as store:
        models = store.models_frame()
        assert set(models["space"]) == {"tiny"} and set(models["resolution"]) == {32, 48}
        assert store.layer_count() == 29


def test_fit_and_predict_from_the_command_line(tiny, capsys):
    meta = json.loads((tiny["predictor"] / "meta.json").read_text())
    assert meta["training"]["spaces"] == ["tiny"] and meta["training"]["measurements"] == 12
    predict = ["predict", "--predictor", str(tiny["predictor"]), "--json"]
    assert main([*predict, "--space", str(tiny["space"]), "--arch", "tiny-a"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["network"] == "tiny@32:c16_k3e2-k5e4|c24_k3e4" and result["latency_ms"] > 0
    assert result["estimated_share"] == 0  # every layer is in the LUT


@pytest.mark.slow
def test_search_verify_and_resume_from_the_command_line(tiny, tmp_path, capsys):
    out = tmp_path / "search"
    args = search_args(tiny["predictor"], out, "--space", str(tiny["space"]), "--verify", "2")
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "search: evolution on tiny, 8 candidates" in printed and "best: reward" in printed
    assert "median |error|" in printed  # --verify timed the top 2 on the LUT's backend
    with open(out / "candidates.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and all(r["arch_key"].startswith("tiny@") for r in rows)
    best = Arch.from_json((out / "best_arch.json").read_text())
    with torch.no_grad():
        assert best.build(num_classes=10).eval()(torch.zeros(best.input_shape)).shape == (1, 10)
    # a larger budget resumes the record and extends it
    more = search_args(tiny["predictor"], out, "--space", str(tiny["space"]), budget=12)
    assert main(more) == 0
    assert "resuming at 8" in capsys.readouterr().out
    with open(out / "candidates.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 12
    assert json.loads((out / "summary.json").read_text())["config"]["space"]["name"] == "tiny"


@pytest.mark.slow
@pytest.mark.parametrize(
    "strategy, evaluator, workers",
    [
        (("random",), ("zero-cost", "batch=8"), 1),
        (("rl", "hidden_size=16", "batch_size=4"), ("callable",), 2),
        (
            ("evolution", "population_size=4", "sample_size=2"),
            ("proxy-train", "epochs=1", "limit=64"),
            1,
        ),
    ],
)
def test_every_strategy_and_evaluator_searches_a_file_space(
    tiny, strategy, evaluator, workers, tmp_path, capsys
):
    """The callable evaluator runs in two spawned workers: the architectures reach them with
    their space (the workers have no space file)."""
    extra = ["--space", str(tiny["space"])]
    if evaluator[0] == "callable":
        extra += ["--evaluator-arg", f"{fake_accuracy.__module__}:fake_accuracy"]
    args = search_args(
        tiny["predictor"],
        tmp_path / "s",
        *extra,
        budget=8,
        workers=workers,
        strategy=strategy,
        evaluator=evaluator,
    )
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "8 candidates in" in printed and "0 failed" in printed


def test_calibrate_with_architectures_of_a_file_space(tiny, tmp_path, capsys):
    with isolated_spaces():
        space = load_space(tiny["space"])
        archs = sample_archs(space, 2, seed=9, resolutions=(32,))
    save_archs(tmp_path / "a.json", archs[:1])
    (tmp_path / "m.csv").write_text(
        "model,resolution,latency_ms\ntiny-a,32,0.30\na.json,32,0.35\ntiny-a,48,0.50\n"
    )
    out = tmp_path / "target.predictor"
    calibrate = ["calibrate", "--predictor", str(tiny["predictor"]), "--device", "other"]
    args = [*calibrate, "--measurements", str(tmp_path / "m.csv"), "--out", str(out)]
    assert main([*args, "--space", str(tiny["space"])]) == 0
    meta = json.loads((out / "meta.json").read_text())
    record = meta["calibration"]
    assert record["target_device"] == "other" and record["n"] == 3
    assert {m["family"] for m in record["measurements"]} == {"tiny"}
    assert meta["training"]["space_definitions"]["tiny"]["name"] == "tiny"
    # the LUT's own whole models as the target's measurements (lutnas fit --prior)
    prior = ["fit", "--lut", str(tiny["lut"]), "--prior", str(tiny["predictor"])]
    assert main([*prior, "--out", str(tmp_path / "prior.predictor")]) == 0


def test_the_python_api_on_a_file_space(tiny):
    from predictor import LatencyPredictor

    space = load_space(tiny["space"])  # registered: its architectures build by name
    assert load_space("tiny") is space
    arch = get_named_arch("tiny-a")
    assert arch.space == "tiny" and arch.to_tokens() and arch.problems() == []
    with torch.no_grad():
        assert arch.build(num_classes=10).eval()(torch.zeros(arch.input_shape)).shape == (1, 10)
    predictor = LatencyPredictor.load(tiny["predictor"])
    archs = sample_archs(space, 5, seed=4)
    predicted = predictor.predict_many(archs)
    assert predicted.shape == (5,) and (predicted > 0).all()
    detail = predictor.predict_detail(archs[0])
    assert detail.latency_ms == pytest.approx(predicted[0])


def test_a_factorized_file_space_profiles_and_fits(tmp_path, capsys):
    space = write_space(tmp_path, TINY_FACTORIZED, "tinyf.toml")
    lut = tmp_path / "f.lut"
    assert main(_profile(space, lut, "--whole-models", "6")) == 0
    assert _dry_run(space, capsys) == "resolution 32: 39 unique layers\ntotal: 39 unique layers\n"
    assert main(["fit", "--lut", str(lut), "--out", str(tmp_path / "f.predictor")]) == 0
    predict = ["predict", "--predictor", str(tmp_path / "f.predictor"), "--arch", "tinyf-a"]
    assert main(predict) == 0
    assert (
        "tinyf@32:dconv_k3_noskip_c16_n2|mbconv3_k3_se0.25_idskip_c24_n2" in capsys.readouterr().out
    )


def _dry_run(space, capsys) -> str:
    capsys.readouterr()
    assert main(["profile-device", "--space", str(space), "--dry-run"]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_the_proxylessnas_space_profiles_and_searches(tmp_path, capsys):
    """ProxylessNAS's space at 224: the layers of 6 random networks and the networks, a
    predictor, a short search verified on the host."""
    assert main(["profile-device", "--space", "proxylessnas", "--dry-run"]) == 0
    assert "resolution 224: 70 unique layers" in capsys.readouterr().out
    lut, predictor = tmp_path / "p.lut", tmp_path / "p.predictor"
    assert main(_profile("proxylessnas", lut, "--limit", "1", "--whole-models", "6")) == 0
    assert main(["fit", "--lut", str(lut), "--out", str(predictor)]) == 0
    out = tmp_path / "search"
    assert main(search_args(predictor, out, "--space", "proxylessnas", "--verify", "1")) == 0
    printed = capsys.readouterr().out
    assert "search: evolution on proxylessnas, 8 candidates" in printed
    assert "median |error|" in printed
    assert main(["predict", "--predictor", str(predictor), "--arch", "proxylessnas-mobile"]) == 0
    assert "proxylessnas@224:c32_k5e3-k3e3|" in capsys.readouterr().out
    assert middle_target_ms(predictor) > 0


def test_the_zero_cost_proxy_scores_spaces_without_relu(tmp_path):
    """NASWOT codes ReLU units; ProxylessNAS's networks have only ReLU6, and a space file may
    have only h-swish: both are scored, and a ReLU network's score is unchanged by them."""
    from search.evaluators import get_evaluator

    evaluator = get_evaluator("zero-cost", batch=16)
    scores = [evaluator.evaluate(get_named_arch("proxylessnas-mobile"))]
    for text in (TINY, TINY.replace('"relu6"', '"hswish"')):  # relu6 and hswish; hswish only
        with isolated_spaces():
            load_space(write_space(tmp_path, text))
            scores.append(evaluator.evaluate(get_named_arch("tiny-a")))
    assert all(0 < s <= 1 for s in scores) and len(set(scores)) == 3
