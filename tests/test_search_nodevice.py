"""A whole search with no phone, no adb server and no network: it must succeed.

The search runs in a subprocess whose interpreter — and every worker process it spawns, via a
``sitecustomize`` on PYTHONPATH — carries an audit hook that refuses every IPv4/IPv6 socket
connection, every DNS lookup and any launch of ``adb``, and logs each attempt.
``ANDROID_ADB_SERVER_PORT`` points at a closed port and ``ADBUTILS_ADB_PATH`` at nothing.
The run includes worker processes, all outputs (ONNX export) and ``--verify`` on the host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from test_search_fixtures import search_args

from search.record import RECORD_NAME, SearchRecord

SITECUSTOMIZE = """
import os, socket, sys

_LOG = os.environ["LUTNAS_TEST_NET_LOG"]


def _refuse(what):
    with open(_LOG, "a") as f:
        f.write(f"{os.getpid()} {what}\\n")
    raise OSError(f"network and adb are disabled in this test: {what}")


def _hook(event, args):
    if event == "socket.connect":
        sock, address = args[0], args[1]
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(f"connect {address!r}")
    elif event == "socket.getaddrinfo":
        _refuse(f"getaddrinfo {args[0]!r}")
    elif event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        if "adb" in os.path.basename(str(executable or (argv or [""])[0])):
            _refuse(f"launch {executable!r}")


sys.addaudithook(_hook)
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_whole_search_without_device_or_network(predictor_path, tmp_path):
    hook_dir, net_log, out = tmp_path / "hook", tmp_path / "net.log", tmp_path / "search"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook_dir), os.environ.get("PYTHONPATH", "")]),
        "LUTNAS_TEST_NET_LOG": str(net_log),
        "ANDROID_ADB_SERVER_PORT": str(_closed_port()),
        "ADBUTILS_ADB_PATH": str(tmp_path / "no-adb-here"),
    }

    # the hook works: a connection attempt in that environment fails and is logged
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.socket().connect(('127.0.0.1', 9))"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "network and adb are disabled" in probe.stderr
    assert net_log.read_text().count("connect") == 1
    net_log.unlink()

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lutnas.cli.main",
            *search_args(predictor_path, out, "--verify", "1", workers=2),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not net_log.exists(), net_log.read_text()  # nothing even tried
    with SearchRecord.read(out / RECORD_NAME) as record:
        assert record.tell_count() == 8
        assert len({e.worker for e in record.evaluations()}) == 2  # both workers ran
    for name in (
        "pareto.csv",
        "pareto.json",
        "pareto.png",
        "best_arch.json",
        "best_arch.onnx",
        "candidates.csv",
        "summary.json",
    ):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "summary.json").read_text())["candidates"] == 8
    assert "predicted ms" in done.stdout and "measured ms" in done.stdout
