"""Search outputs say how far each result's latency extrapolates (issue 23, item 4): every row
of pareto.csv/pareto.json and the best in summary.json carry the share of its LUT sum that is
estimated and its out-of-distribution flag, as the predictor gives them, and the summary and
the printed result say when the best itself is an extrapolation."""

from __future__ import annotations

import csv
import json

from test_search_fixtures import search_args

from lutnas.cli.main import main
from lutnas.spaces.arch import Arch
from predictor import LatencyPredictor
from search.caveats import ESTIMATED_SHARE_MAX, Caveat
from search.outputs import write_outputs
from search.record import RECORD_NAME, SearchRecord

FAKE = ("--evaluator-arg", "test_search_fixtures:fake_accuracy")


def _read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_rows_carry_their_estimated_share_and_ood_flag(
    both_spaces_predictor_path, tmp_path, capsys
):
    # docs/spaces.md's case: the predictor saw only 160 px; a search at 128 px returns a best
    # the predictor extrapolates to (no 128 px row in its LUT, a resolution it never saw)
    out = tmp_path / "at128"
    args = search_args(
        both_spaces_predictor_path,
        out,
        "--space",
        "mobilenetv3",
        "--resolution",
        "128",
        "--no-onnx",
        *FAKE,
        evaluator=("callable",),
    )
    assert main(args) == 0
    printed = capsys.readouterr().out
    predictor = LatencyPredictor.load(both_spaces_predictor_path)

    front = _read_csv(out / "pareto.csv")
    assert front
    for row in front:
        detail = predictor.predict_detail(Arch.from_json(_arch_json(out, row["arch_key"])))
        assert float(row["estimated_share"]) == round(detail.estimated_share, 4)
        assert row["out_of_distribution"] == str(detail.out_of_distribution)
    shown = json.loads((out / "pareto.json").read_text())["front"]
    assert [r["arch_key"] for r in shown] == [r["arch_key"] for r in front]
    assert all(r["out_of_distribution"] is not None and "ood_reasons" in r for r in shown)

    summary = json.loads((out / "summary.json").read_text())
    best = summary["best"]
    assert best["out_of_distribution"] is True
    assert any(r.startswith("resolution=128") for r in best["ood_reasons"]), best["ood_reasons"]
    assert best["estimated_share"] >= ESTIMATED_SHARE_MAX  # its 128 px rows are estimated
    assert summary["best_extrapolated"] is True
    assert "extrapolates" in summary["best_caveat"] and "--verify" in summary["best_caveat"]
    assert "note: this prediction extrapolates" in printed
    assert "search only what it was fitted on: --resolution 160" in printed


def _arch_json(out, key: str) -> str:
    with SearchRecord.read(out / RECORD_NAME) as record:
        return next(h.arch_json for h in record.history() if h.arch_key == key)


def test_without_detailed_predictions_the_columns_stay_empty(
    both_spaces_predictor_path, tmp_path, capsys
):
    out = tmp_path / "run"
    args = search_args(both_spaces_predictor_path, out, "--no-onnx", *FAKE, evaluator=("callable",))
    assert main(args) == 0
    capsys.readouterr()
    with SearchRecord.read(out / RECORD_NAME) as record:
        history = record.history()
    again = tmp_path / "again"
    write_outputs(history, again, score_label="accuracy", is_proxy=False, target_ms=5.0, onnx=False)
    assert all(
        r["estimated_share"] == r["out_of_distribution"] == ""
        for r in _read_csv(again / "pareto.csv")
    )
    summary = json.loads((again / "summary.json").read_text())
    assert summary["best_extrapolated"] is None and summary["best_caveat"] == ""


def test_a_caveat_calls_a_quarter_estimated_or_ood_an_extrapolation():
    inside = Caveat(estimated_share=0.1, out_of_distribution=False, ood_reasons=())
    assert not inside.extrapolated and inside.describe() == ""
    estimated = Caveat(estimated_share=0.8, out_of_distribution=False, ood_reasons=())
    assert estimated.extrapolated and estimated.describe() == "80% of its LUT sum estimated"
    reasons = ("resolution=128 outside [160, 224]", "lut_ms=9 outside [1, 5]", "x=1 outside [0, 0]")
    ood = Caveat(estimated_share=0.0, out_of_distribution=True, ood_reasons=reasons)
    assert ood.extrapolated
    assert ood.describe() == (
        "outside the networks fitted on (resolution=128 outside [160, 224]; "
        "lut_ms=9 outside [1, 5]; ...)"
    )
    assert ood.columns() == {"estimated_share": 0.0, "out_of_distribution": True}
