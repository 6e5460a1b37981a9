"""``lutnas search --space mobilenetv3``: every strategy and every evaluator searches Once-for-All's
MobileNetV3 space with a predictor fitted on both spaces; what it writes are architectures of
that space at the asked resolution, with the predictor's latencies; a predictor fitted on
mnasnet only is refused; a search in the space resumes to the uninterrupted search's result."""

from __future__ import annotations

import csv
import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
from test_search_fixtures import fake_accuracy, middle_target_ms, search_args

from lutnas.cli.main import main
from lutnas.spaces.arch import Arch
from predictor import LatencyPredictor
from search.record import RECORD_NAME, SearchRecord
from search.reward import make_reward

SPACE = "mobilenetv3"
RESOLUTION = 160  # the only resolution the both-spaces predictor was fitted on
IN_SPACE = ("--space", SPACE, "--resolution", str(RESOLUTION))
FAKE = ("--evaluator-arg", "test_search_fixtures:fake_accuracy")

STRATEGIES = {
    "evolution": ("evolution", "population_size=4", "sample_size=2"),
    "random": ("random",),
    "rl": ("rl", "hidden_size=16", "batch_size=4"),
}
EVALUATORS = {  # name: (evaluator and options, extra arguments, score column)
    "zero-cost": (("zero-cost", "batch=16"), (), "zero_cost_score"),
    "proxy-train": (("proxy-train", "epochs=1", "limit=64"), (), "accuracy"),
    "callable": (("callable",), FAKE, "accuracy"),
}


def _search(
    predictor, out, strategy="evolution", evaluator="callable", budget=8, onnx=False
) -> int:
    """``lutnas search`` in the space at 160 px (without the ONNX export unless ``onnx``)."""
    spec, evaluator_args, _ = EVALUATORS[evaluator]
    return main(
        search_args(
            predictor,
            out,
            *IN_SPACE,
            *evaluator_args,
            *(() if onnx else ("--no-onnx",)),
            budget=budget,
            strategy=STRATEGIES[strategy],
            evaluator=spec,
        )
    )


def _read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def _check_candidates(out, predictor_path, budget: int, column: str) -> list[Arch]:
    """candidates.csv lists ``budget`` architectures of the space at 160 px, as recorded, with
    the predictor's latencies and the soft reward of their score and latency; returns them."""
    rows = _read_csv(out / "candidates.csv")
    assert len(rows) == budget
    with SearchRecord.read(out / RECORD_NAME) as record:
        history = record.history()
    assert [h.arch_key for h in history] == [r["arch_key"] for r in rows]

    archs = [Arch.from_json(h.arch_json) for h in history]
    for arch, h in zip(archs, history, strict=True):
        assert arch.space == SPACE and arch.resolution == RESOLUTION
        assert arch.problems() == [], arch.key
        assert arch.key == h.arch_key and arch.key.startswith(f"{SPACE}@{RESOLUTION}:")
        assert Arch.from_tokens(SPACE, list(h.tokens)) == arch  # tokens decode to the arch
    assert len({a.key for a in archs}) >= 2, "the search proposed a single architecture"

    predictor = LatencyPredictor.load(predictor_path)
    predicted = predictor.predict_many(archs)
    reward = make_reward(middle_target_ms(predictor_path), "soft")
    for arch, row, ms in zip(archs, rows, predicted, strict=True):
        latency = float(row["latency_ms"])
        assert math.isfinite(latency) and latency > 0
        assert latency == pytest.approx(predictor.predict(arch), rel=1e-9)
        assert latency == pytest.approx(float(ms), rel=1e-9)
        score = float(row[column])
        assert 0.0 <= score <= 1.0
        assert float(row["reward"]) == pytest.approx(reward(score, latency), rel=1e-9)
    return archs


def _check_best(out) -> Arch:
    rows = _read_csv(out / "candidates.csv")
    best = Arch.from_json((out / "best_arch.json").read_text())
    assert best.space == SPACE and best.resolution == RESOLUTION and best.problems() == []
    top = max(rows, key=lambda r: float(r["reward"]))
    assert best.key == top["arch_key"]
    return best


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_searches_the_space(strategy, both_spaces_predictor_path, tmp_path, capsys):
    out = tmp_path / strategy
    assert _search(both_spaces_predictor_path, out, strategy=strategy) == 0
    printed = capsys.readouterr().out
    assert f"search: {strategy} on {SPACE}, 8 candidates" in printed
    assert "8 candidates in" in printed

    archs = _check_candidates(out, both_spaces_predictor_path, 8, "accuracy")
    rows = _read_csv(out / "candidates.csv")
    for arch, row in zip(archs, rows, strict=True):  # the callable's own value, unchanged
        assert float(row["accuracy"]) == pytest.approx(fake_accuracy(arch), rel=1e-12)
    _check_best(out)
    assert not (out / "best_arch.onnx").exists()  # --no-onnx


@pytest.mark.parametrize(
    "evaluator",
    [
        pytest.param(name, marks=[pytest.mark.slow] if name == "proxy-train" else [])
        for name in EVALUATORS
    ],
)
def test_every_evaluator_scores_the_space(evaluator, both_spaces_predictor_path, tmp_path, capsys):
    out = tmp_path / evaluator
    export = evaluator == "zero-cost"  # export the best network once, not for every evaluator
    assert _search(both_spaces_predictor_path, out, evaluator=evaluator, onnx=export) == 0
    printed = capsys.readouterr().out
    assert f"[{evaluator}]" in printed and "8 candidates in" in printed
    column = EVALUATORS[evaluator][2]

    _check_candidates(out, both_spaces_predictor_path, 8, column)
    if evaluator != "proxy-train":  # one epoch on 64 digits: ties are likely there
        scores = [float(r[column]) for r in _read_csv(out / "candidates.csv")]
        assert len(set(scores)) >= 2, "every candidate got the same score"
    best = _check_best(out)
    with torch.no_grad():  # the documented rebuild, at the searched resolution
        assert best.build(num_classes=10).eval()(torch.zeros(best.input_shape)).shape == (1, 10)
    if export:
        session = ort.InferenceSession(
            str(out / "best_arch.onnx"), providers=["CPUExecutionProvider"]
        )
        (inp,) = session.get_inputs()
        assert list(inp.shape) == [1, 3, RESOLUTION, RESOLUTION]
        feed = {inp.name: np.zeros(best.input_shape, np.float32)}
        assert session.run(None, feed)[0].shape == (1, 1000)


def test_a_predictor_fitted_on_mnasnet_only_is_refused(predictor_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert _search(predictor_path, out) == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("error:"))
    assert f"fitted on architectures of space(s) mnasnet, not {SPACE!r}" in line
    assert f"profile-device --space {SPACE}" in line
    assert not (out / RECORD_NAME).exists()


def test_the_both_spaces_predictor_also_searches_mnasnet(
    both_spaces_predictor_path, tmp_path, capsys
):
    out = tmp_path / "mnasnet"
    args = search_args(
        both_spaces_predictor_path,
        out,
        "--space",
        "mnasnet",
        "--resolution",
        str(RESOLUTION),
        "--no-onnx",
        *FAKE,
        budget=4,
        evaluator=("callable",),
    )
    assert main(args) == 0
    predictor = LatencyPredictor.load(both_spaces_predictor_path)
    for row in _read_csv(out / "candidates.csv"):
        assert row["arch_key"].startswith(f"mnasnet@{RESOLUTION}:")
    with SearchRecord.read(out / RECORD_NAME) as record:
        history = record.history()
    assert len(history) == 4
    for h in history:
        arch = Arch.from_json(h.arch_json)
        assert arch.space == "mnasnet" and arch.problems() == []
        assert h.latency_ms == pytest.approx(predictor.predict(arch), rel=1e-9)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_a_search_in_the_space_resumes_like_an_uninterrupted_one(
    strategy, both_spaces_predictor_path, tmp_path, capsys
):
    out, reference = tmp_path / "resumed", tmp_path / "reference"
    assert _search(both_spaces_predictor_path, out, budget=8, strategy=strategy) == 0
    first = _read_csv(out / "candidates.csv")
    capsys.readouterr()

    # the same command with a larger budget extends the record
    assert _search(both_spaces_predictor_path, out, budget=12, strategy=strategy) == 0
    printed = capsys.readouterr().out
    assert "resuming at 8" in printed
    resumed = _read_csv(out / "candidates.csv")
    assert resumed[:8] == first
    _check_candidates(out, both_spaces_predictor_path, 12, "accuracy")

    # ... to the result of the same search run to 12 at once
    assert _search(both_spaces_predictor_path, reference, budget=12, strategy=strategy) == 0
    assert _read_csv(reference / "candidates.csv") == resumed

    # resuming it as a search of the other space is refused, naming the difference
    capsys.readouterr()
    other = search_args(
        both_spaces_predictor_path,
        out,
        "--space",
        "mnasnet",
        "--resolution",
        str(RESOLUTION),
        "--no-onnx",
        *FAKE,
        budget=12,
        strategy=STRATEGIES[strategy],
        evaluator=("callable",),
    )
    assert main(other) == 2
    assert f"space.name: record has {SPACE!r}, this run 'mnasnet'" in capsys.readouterr().err
