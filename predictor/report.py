"""The accuracy report's record and its presentation: :class:`Report` (figures as computed by
:func:`predictor.evaluate.evaluate`), its text table, and the predicted-vs-measured plot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from predictor.metrics import PREDICTORS, metrics


@dataclass
class Report:
    """Everything :func:`evaluate` computes; :meth:`text` formats it."""

    lut: str
    backend: dict
    n_train: int
    n_test: int
    test: dict[str, dict[str, float]]
    torchvision: dict[str, dict] = field(default_factory=dict)
    torchvision_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    curve: list[dict] = field(default_factory=list)
    noise: dict = field(default_factory=dict)
    layer_estimator: dict = field(default_factory=dict)
    interval_coverage: float = math.nan
    ood_test: int = 0
    cv: dict = field(default_factory=dict)
    truth: str = ""

    def text(self) -> str:
        cfg = self.backend
        lines = [
            f"lutnas evaluate: {self.lut}",
            f"  backend {cfg.get('backend')} threads={cfg.get('threads')} on "
            f"{cfg.get('device')}; {self.n_train} training / {self.n_test} held-out "
            "architectures",
            f"  ground truth = {self.truth}",
            "",
        ]
        lines += _table("held-out architectures", self.test)
        lines.append(
            f"  ours: 90% interval covers {100 * self.interval_coverage:.1f}% of "
            f"held-out; {self.ood_test} flagged out-of-distribution"
        )
        if self.noise:
            n = self.noise
            lines.append(
                f"  ground-truth repeat noise ({n['models']} models, {n['measurements']} "
                f"measurements): RMS {n['rms_pct_single']:.2f}% per measurement (robust "
                f"{n['robust_pct_single']:.2f}%); two "
                f"measurements of a model differ by {n['rms_pct_pair']:.2f}% RMS, "
                f"{100 * n['pair_within_5']:.0f}% of pairs within ±5%, "
                f"{100 * n['pair_within_10']:.0f}% within ±10%; ours RMSPE / noise = "
                f"{self.test['ours']['rmspe'] / n['rms_pct_single']:.2f} (robust: "
                f"{self.test['ours']['rmspe'] / n['robust_pct_single']:.2f})"
            )
        if self.torchvision_metrics:
            lines.append("")
            lines += _table("torchvision networks", self.torchvision_metrics)
            lines.append(
                f"  {'network':<20}{'measured':>10}"
                + "".join(f"{p:>14}" for p in PREDICTORS)
                + "  OOD  est.rows"
            )
            for name, r in self.torchvision.items():
                lines.append(
                    f"  {name:<20}{r['measured_ms']:>9.2f} "
                    + "".join(
                        f"{r[p]:>8.2f} ({100 * (r[p] / r['measured_ms'] - 1):+4.0f}%)"[:14].rjust(
                            14
                        )
                        for p in PREDICTORS
                    )
                    + f"  {'yes' if r['ood'] else 'no ':<4} "
                    f"{100 * r['estimated_share']:.0f}%"
                )
        if self.curve:
            lines += [
                "",
                "  learning curve (held-out, ±10% / ±5% / RMSPE / τ):",
                f"  {'train n':>8}  {'lut-sum×k':>28}  {'ours':>28}",
            ]
            for c in self.curve:
                k, o = c["lut-sum×k"], c["ours"]
                lines.append(
                    f"  {c['n']:>8}  "
                    + "  ".join(
                        f"{100 * m['within_10']:5.1f}% {100 * m['within_5']:5.1f}% "
                        f"{m['rmspe']:5.2f} {m['kendall_tau']:.3f}"
                        for m in (k, o)
                    )
                )
        if self.layer_estimator:
            e = self.layer_estimator
            lines += [
                "",
                f"  layer estimator ({100 * e['held_out_share']:.0f}% of LUT rows "
                f"held out, {e['held_out_rows']} rows): median error "
                f"{e['median_abs_pct']:.1f}%, p90 {e['p90_abs_pct']:.1f}%; whole models "
                f"with {100 * e['mean_rows_estimated']:.0f}% of rows estimated: "
                f"{100 * e['models']['within_10']:.1f}% within ±10%, "
                f"{100 * e['models']['within_5']:.1f}% within ±5%, RMSPE "
                f"{e['models']['rmspe']:.2f}%",
            ]
            for kind, err in sorted(e["per_kind"].items()):
                lines.append(f"    {kind:<7} median error {err:.1f}%")
        return "\n".join(lines)


def _table(title: str, rows: dict[str, dict[str, float]]) -> list[str]:
    out = [
        f"  {title}:",
        f"  {'predictor':<14}{'±5%':>8}{'±10%':>8}{'RMSPE%':>9}{'τ':>8}"
        f"{'vs lut-sum×k (RMSPE)':>22}",
    ]
    ref = rows.get("lut-sum×k", {}).get("rmspe", math.nan)
    for name, m in rows.items():
        out.append(
            f"  {name:<14}{100 * m['within_5']:>7.1f}%{100 * m['within_10']:>7.1f}%"
            f"{m['rmspe']:>9.2f}{m['kendall_tau']:>8.3f}{m['rmspe'] / ref:>21.2f}x"
        )
    return out


def plot(
    path: str | Path,
    true: np.ndarray,
    preds: dict[str, np.ndarray],
    tv: dict[str, dict] | None = None,
) -> Path:
    """Predicted-vs-measured scatter, one panel per predictor, ±10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PREDICTORS), figsize=(4.2 * len(PREDICTORS), 4.2))
    lo = 0.8 * min(true.min(), *(p.min() for p in preds.values()))
    hi = 1.2 * max(true.max(), *(p.max() for p in preds.values()))
    for ax, name in zip(axes, PREDICTORS, strict=False):
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="0.9")
        ax.scatter(true, preds[name], s=8, label="held-out archs")
        if tv:
            ax.scatter(
                [r["measured_ms"] for r in tv.values()],
                [r[name] for r in tv.values()],
                s=28,
                marker="x",
                color="C3",
                label="torchvision",
            )
        m = metrics(preds[name], true)
        ax.set_title(
            f"{name}\n±10%: {100 * m['within_10']:.0f}%  ±5%: "
            f"{100 * m['within_5']:.0f}%  τ {m['kendall_tau']:.3f}",
            fontsize=9,
        )
        ax.set_xlabel("measured (ms)")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    axes[0].set_ylabel("predicted (ms)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
