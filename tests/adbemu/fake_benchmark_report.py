"""What the stand-in ``benchmark_model`` (``fake_benchmark_model.py``) prints about times: the
statistics line of a phase (``Stat::OutputToStream``) and, with ``--enable_op_profiling=true``,
the op-profiling tables (``ProfileSummaryDefaultFormatter``), in the layout of current LiteRT
releases (tests/data/transcripts/SOURCES.md)."""

from __future__ import annotations

import math


def g(x: float) -> str:
    """C++ ostream's default formatting of a floating-point number (6 significant digits)."""
    return f"{x:.6g}"


def stat_line(runs_us: list[int], percentiles: bool = True) -> str:
    """``Stat::OutputToStream`` (+ ``StatWithPercentiles``') line of per-run microseconds."""
    n = len(runs_us)
    if n == 0:
        line = "count=0"
    elif min(runs_us) == max(runs_us):
        line = f"count={n} curr={runs_us[-1]}" + ("(all same)" if n > 1 else "")
    else:
        avg = sum(runs_us) / n
        variance = int(sum(float(v) * v for v in runs_us) / n - avg * avg)  # ValueType: int64
        line = (
            f"count={n} first={runs_us[0]} curr={runs_us[-1]} min={min(runs_us)} "
            f"max={max(runs_us)} avg={g(avg)} std={int(math.sqrt(max(variance, 0)))}"
        )
    if percentiles:
        ordered = sorted(runs_us)

        def pct(p: int) -> int:  # nth element at size*p/100; an empty list gives int64 NaN: 0
            return (ordered[-1] if p == 100 else ordered[n * p // 100]) if ordered else 0

        line += f" p5={pct(5)} median={pct(50)} p95={pct(95)}"
    return line


def avg_text(runs_us: list[int]) -> str:
    return g(sum(runs_us) / len(runs_us)) if runs_us else "0"


def _row(cells: list[str]) -> str:
    widths = (24, 17, 9, 9, 8, 8, 10, 9)
    return (
        "\t"
        + "\t".join(c.rjust(w) for c, w in zip(cells[:8], widths, strict=True))
        + "\t"
        + cells[-1]
    )


def _table(title: str, nodes: list[tuple[str, str, list[int]]]) -> list[str]:
    """One profile in the layout of ``ProfileSummaryDefaultFormatter`` (Run Order, Top by
    Computation Time, Summary by node type, then the totals)."""
    header = (
        "\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]"
        "\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]"
    )
    avg_ms = [sum(t) / len(t) / 1000 for _, _, t in nodes]
    total = sum(avg_ms) or 1.0

    def rows(order: list[int]) -> list[str]:
        out, cdf = [], 0.0
        for i in order:
            (kind, name, times), share = nodes[i], 100 * avg_ms[i] / total
            cdf += share
            out.append(
                _row(
                    [
                        kind,
                        f"{sum(avg_ms[:i]):.3f}",
                        f"{times[0] / 1000:.3f}",
                        f"{avg_ms[i]:.3f}",
                        f"{share:.3f}%",
                        f"{cdf:.3f}%",
                        "0.000",
                        "1",
                        name,
                    ]
                )
            )
        return out

    per_run = [sum(t[i] for _, _, t in nodes) for i in range(len(nodes[0][2]))]
    by_time = sorted(range(len(nodes)), key=lambda i: -avg_ms[i])[:10]
    out = [
        title,
        "=" * 30 + " Run Order " + "=" * 30,
        header,
        *rows(list(range(len(nodes)))),
        "",
        "=" * 30 + " Top by Computation Time " + "=" * 30,
        header,
        *rows(by_time),
        "",
        f"Number of nodes executed: {len(nodes)}",
        "=" * 30 + " Summary by node type " + "=" * 30,
        "\t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]"
        "\t  [mem KB]\t[times called]",
    ]
    cdf = 0.0
    for (kind, _, _), avg in zip(nodes, avg_ms, strict=True):
        cdf += 100 * avg / total
        share, cumulative = f"{100 * avg / total:.3f}%", f"{cdf:.3f}%"
        out.append(
            f"\t{kind:>24}\t{1:>9}\t{avg:>10.3f}\t{share:>11}\t{cumulative:>11}\t{0:>10.3f}\t{1:>9}"
        )
    return [
        *out,
        "",
        f"Timings (microseconds): {stat_line(per_run, percentiles=False)}",
        "Memory (bytes): count=0",
        f"{len(nodes)} nodes observed",
        "",
    ]


def op_profiles(op_names: list[str], init_us: int, timed_us: list[int], xnnpack: bool) -> str:
    """The op-profiling report: this stand-in cannot see inside an invoke, so the timed runs
    are shared evenly among the ops (or given to the one XNNPACK delegate node)."""
    init = _table(
        "Profiling Info for Benchmark Initialization:",
        [
            ("ModifyGraphWithDelegate", "ModifyGraphWithDelegate/0", [init_us * 3 // 4]),
            ("AllocateTensors", "AllocateTensors/0", [init_us // 4]),
        ],
    )
    node_us = [max(t - min(10, t // 100), 1) for t in timed_us]  # the invoke's own overhead
    ops = op_names or ["UNKNOWN"]
    if xnnpack:
        nodes = [("TfLiteXNNPackDelegate", f"[{ops[-1]}]:{len(ops)}", node_us)]
    else:
        nodes = [(op, f"[{op}]:{i}", [t // len(ops) for t in node_us]) for i, op in enumerate(ops)]
    regular = _table("Operator-wise Profiling Info for Regular Benchmark Runs:", nodes)
    return "\n".join([*init, "", "", *regular])
