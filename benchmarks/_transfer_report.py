"""What ``benchmarks/transfer.py`` prints and draws of one run: the table of a pair's methods
(:func:`lines`) and the learning curves of every pair (:func:`plot`)."""

from __future__ import annotations

from pathlib import Path

GOAL_TIME_SHARE, GOAL_RMSPE_RATIO, GOAL_WITHIN_10 = 0.15, 1.2, 0.95


def lines(r: dict) -> list[str]:
    cost = r["cost"]
    scaled = (
        f"; K of a {cost['full_layers']}-layer table, timed as K × {cost['table_layers']} / "
        f"{cost['full_layers']} layers of the LUTs' own {cost['table_layers']} "
        f"({', '.join(f'{k}: {v}' for k, v in cost['timed_layers'].items())}); target seconds "
        f"for K and {cost['full_layers']} layers"
        if cost["full_layers"] != cost["table_layers"]
        else ""
    )
    out = [
        f"\n{r['pair']} (source {r['source']}): {r['held_out']} held-out models, N = "
        f"{r['whole_models_n']}, {r['draws']} draws; target {cost['layer_s']:.3f} s/layer, "
        f"{cost['model_s']:.2f} s/whole model{scaled}",
        f"{'method':<13} {'±10%':>6} {'±5%':>6} {'RMSPE':>7} {'τ':>6} {'target s':>9} "
        f"{'time/full':>9} {'phone min':>9} {'RMSPE/full':>10} {'LUT-sum err':>11}",
    ]
    for m, f in r["methods"].items():
        out.append(
            f"{m:<13} {100 * f['within_10']:>5.1f}% {100 * f['within_5']:>5.1f}% "
            f"{f['rmspe']:>6.2f}% {f['kendall_tau']:>6.3f} {f['profiling_s']:>9.0f} "
            f"{100 * f['time_share']:>8.1f}% {f['phone_s'] / 60:>9.1f} {f['rmspe_ratio']:>9.2f}x"
            + (f" {f['lut_sum_rmspe']:>10.2f}%" if "lut_sum_rmspe" in f else "")
        )
    phone = cost["phone"]
    out.append(
        f"phone min: on a phone, {phone['overhead_s']:.2f} s of overhead a file (emulated phone, "
        f"{phone['from']}) + {phone['warmup']} + {phone['runs']} runs at this target's mean "
        f"latencies ({phone['layer_ms']:.2f} ms a layer, {phone['model_ms']:.1f} ms a model); "
        "runner start not included"
    )
    out.append(
        "LUT-sum err: RMSPE of the held-out models' LUT sums (sampled rows measured, the rest "
        "transferred) against the full target LUT's sums; whole-model noise does not enter it"
    )
    checked = ", ".join(r["goal_checked_on"]) or "no transfer size"
    met = ", ".join(r["goal_met_by"]) or "none"
    out.append(
        f"goal (<= {100 * GOAL_TIME_SHARE:.0f}% of the full LUT's time, RMSPE <= "
        f"{GOAL_RMSPE_RATIO}x full, >= {100 * GOAL_WITHIN_10:.0f}% within ±10%): checked on "
        f"{checked}; met by {met}"
    )
    return out


def plot(results: list[dict], png: Path) -> None:
    """The learning curves: one column per pair, one row per figure, against profiling
    seconds on the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (("rmspe", "held-out RMSPE (%)", 1), ("within_10", "within ±10% (%)", 100))
    rows += (("within_5", "within ±5% (%)", 100), ("kendall_tau", "Kendall τ", 1))
    fig, axes = plt.subplots(
        len(rows), len(results), figsize=(5 * len(results), 3.2 * len(rows)), squeeze=False
    )
    for column, r in enumerate(results):
        methods = r["methods"]
        for ax, (figure, label, scale) in zip(axes[:, column], rows, strict=True):
            for prefix in ("transfer", "random"):
                ms = [m for m in methods if m.startswith(prefix)]
                ax.plot(
                    [methods[m]["profiling_s"] for m in ms],
                    [scale * methods[m][figure] for m in ms],
                    marker="o",
                    label=f"{prefix} K + N",
                )
            for m, style in (("calibrate", "s"), ("full LUT", "*")):
                ax.plot(
                    methods[m]["profiling_s"], scale * methods[m][figure], style, ms=10, label=m
                )
            ax.set_xscale("log")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        axes[0, column].set_title(r["pair"][:60], fontsize=9)
        axes[-1, column].set_xlabel("profiling seconds on the target")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
