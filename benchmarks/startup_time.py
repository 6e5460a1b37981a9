"""Startup time of the commands: how long ``--help`` and an argument error take.

    python benchmarks/startup_time.py [--repeat 5]

Each command runs ``--repeat`` times in a fresh process; the median wall time is printed in
seconds and as a ratio to ``python -c pass`` (the interpreter's own start). Target: every
command well under 1 s (issue 14: heavy libraries such as torch, xgboost, onnxruntime and pandas
load inside ``run()``, not when the parser is built).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402

from lutnas.cli.main import SUBCOMMANDS  # noqa: E402  (light: names and help only)


def _entry(name: str) -> list[str]:
    """The installed console script ``name``, or ``python -m`` on its module."""
    found = shutil.which(name)
    if found:
        return [found]
    return [
        sys.executable,
        "-m",
        {"lutnas": "lutnas.cli.main", "profile-device": "lutnas.cli.profile"}[name],
    ]


def commands() -> dict[str, list[str]]:
    """Label -> argv, the interpreter's own start first."""
    lutnas, profile = _entry("lutnas"), _entry("profile-device")
    out = {"python -c pass": [sys.executable, "-c", "pass"], "lutnas --help": [*lutnas, "--help"]}
    for sub in SUBCOMMANDS:
        out[f"lutnas {sub} --help"] = [*lutnas, sub, "--help"]
    out["profile-device --help"] = [*profile, "--help"]
    out["lutnas fit --mistyped-flag"] = [*lutnas, "fit", "--mistyped-flag"]
    out["profile-device --mistyped-flag"] = [*profile, "--mistyped-flag"]
    return out


def time_command(argv: list[str], repeat: int) -> float:
    """Median wall seconds of ``argv`` over ``repeat`` runs (exit status ignored: an argument
    error exits 2 by design)."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (default: %(default)s)")
    args = ap.parse_args()
    figures: dict[str, dict] = {}
    base = None
    for label, argv in commands().items():
        s = time_command(argv, args.repeat)
        base = base or s
        figures[label] = {"median_s": round(s, 4), "ratio_to_python": round(s / base, 2)}
        print(f"{label:<40} {s:6.3f} s  {s / base:5.1f}x python -c pass")
    write_result("startup_time", {"repeat": args.repeat, "commands": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
