"""What profiling costs on a phone, from this project's figures: the emulated phone's measured
seconds of overhead per file (push, shell round trip, result file, checks:
``benchmarks/results/phone_speed.json``, one layer per shell) plus the runner's timed runs
(warm-up + runs, each as long as the row's latency). The runner's own start and model load on a
real phone are not measured (the emulated phone's stand-in runner is a Python process) and are
left out, so these are lower bounds."""

from __future__ import annotations

import json

from _results import RESULTS


def phone_costs() -> dict:
    """The emulated phone's overhead per file (s) and the runs each file is timed with."""
    speed = json.loads((RESULTS / "phone_speed.json").read_text())
    figures = speed["figures"]
    per_layer = figures["before_one_layer_per_shell"]["mean_s_per_layer"]
    return {
        "overhead_s": per_layer["total_s"] - per_layer["runner_s"],
        "warmup": figures["warmup"],
        "runs": figures["runs"],
        "from": f"phone_speed.json of {speed['date']}",
    }


def phone_seconds(costs: dict, layers: int, layer_ms: float, models: int, model_ms: float) -> float:
    """Seconds to time ``layers`` layers of mean latency ``layer_ms`` and ``models`` whole
    models of mean latency ``model_ms`` on a phone (see the module docstring)."""
    timed = costs["warmup"] + costs["runs"]
    per_layer = costs["overhead_s"] + timed * layer_ms / 1000
    per_model = costs["overhead_s"] + timed * model_ms / 1000
    return layers * per_layer + models * per_model
