"""How long a frozen phone keeps profile-device waiting, and how long Ctrl-C takes on one.

Starts a private adb server and one emulated phone (tests/adbemu) that freezes (stays attached,
answers nothing) during the second runner call of a ``profile-device --backend adb`` run of the
stand-in benchmark_model (in the middle of a batch, or in its own shell with ``--phone-batch
1``), then measures, from the moment it froze:

- ``frozen``: until the run ends by itself with its ``error:`` line (``--runner-timeout``);
- ``ctrl_c``: with the default limits, from a SIGINT sent 2 s after the freeze until it ends.

Before this, each adb call waited 600 s and the exit path twice more (issue 24).

    python benchmarks/phone_frozen.py [--runner-timeout 10] [--phone-batch N]

Prints both times in seconds; writes benchmarks/results/phone_frozen.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from _results import write_result  # noqa: E402
from adbemu.standalone import emulated_phone  # noqa: E402

OLD_LIMIT_S = 600  # every adb call's wait before, and each of the exit path's two calls


def one_run(phone, runner: Path, tmp: Path, extra: list[str], interrupt: bool) -> dict:
    phone.thaw()
    phone.reset_count()
    # frozen as the second runner call starts (its first output line), in a batch or alone
    phone.faults.cut_at, phone.faults.cut_after, phone.faults.cut_how = "STARTING!", 1, "freeze"
    phone.faults.freeze_after, phone.faults.drop_count_match = 1, "--graph="
    out = tmp / f"run{time.monotonic_ns()}.lut"
    args = [
        sys.executable, "-m", "lutnas.cli.profile", "--backend", "adb", "--runner", str(runner),
        "--arch", "mnasnet-a1", "--limit", "3", "--runs", "20", "--warmup", "5",
        "--reference-every", "0", "--no-progress", "--out", str(out), *extra,
    ]  # fmt: skip
    env = {**os.environ, "LUTNAS_CACHE_DIR": str(tmp / "cache")}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    while not phone.frozen.is_set():
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended before the phone froze: {proc.stderr.read()}")
        time.sleep(0.05)
    frozen_at = time.monotonic()
    if interrupt:
        time.sleep(2.0)
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=3 * OLD_LIMIT_S)
    ended_at = time.monotonic()
    phone.thaw()
    last = [line for line in err.splitlines() if line.strip()][-1:]
    return {
        "exit_code": proc.returncode,
        "seconds": round(ended_at - (sent_at if interrupt else frozen_at), 2),
        "last_line": last[0][:300] if last else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runner-timeout", type=float, default=10.0)
    ap.add_argument("--phone-batch", default=None, help="profile-device's (default: its own)")
    args = ap.parse_args()
    batch = ["--phone-batch", args.phone_batch] if args.phone_batch else []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with emulated_phone(tmp, "fake_benchmark_model.py", "benchmark_model") as (
            phone,
            _,
            runner,
        ):
            frozen = one_run(
                phone, runner, tmp, ["--runner-timeout", str(args.runner_timeout), *batch], False
            )
            ctrl_c = one_run(phone, runner, tmp, batch, True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} cores")
    print(
        f"frozen phone, --runner-timeout {args.runner_timeout:g}: ended {frozen['seconds']:.1f} s "
        f"after the freeze (exit {frozen['exit_code']}; before: {OLD_LIMIT_S} s per call, "
        f"{frozen['seconds'] / OLD_LIMIT_S:.3f} of it)"
    )
    print(f"  {frozen['last_line']}")
    print(
        f"Ctrl-C on the frozen phone: ended {ctrl_c['seconds']:.1f} s after SIGINT "
        f"(exit {ctrl_c['exit_code']}; before: 2 x {OLD_LIMIT_S} s in the exit path)"
    )
    write_result(
        "phone_frozen",
        {"runner_timeout_s": args.runner_timeout, "phone_batch": args.phone_batch or "default",
         "frozen": frozen, "ctrl_c": ctrl_c, "old_limit_s": OLD_LIMIT_S},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
