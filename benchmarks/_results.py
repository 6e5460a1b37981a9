"""Where benchmark scripts leave their figures: ``benchmarks/results/<name>.json``, with the
date, the machine and the command that printed them, so a figure quoted anywhere can be traced
back and re-run."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    from profiler.host import cpu_model

    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def stamped(figures: dict) -> dict:
    """``figures`` with the date, machine and command: this process's own
    ``python <script> <args>``."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(RESULTS.parents[1]))
    except ValueError:
        script_text = str(script)
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join(["python", script_text, *sys.argv[1:]]),
        "machine": machine(),
        "figures": figures,
    }


def write_result(name: str, figures: dict) -> Path:
    """Write ``figures`` (JSON-serialisable) with the date, machine and command to
    ``results/<name>.json``; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(stamped(figures), indent=2) + "\n")
    print(f"figures written to {path}")
    return path
