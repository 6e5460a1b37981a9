"""Shared fixtures and the test tiers.

Tiers (markers declared in pyproject.toml): ``slow`` tests take more than ~10 s and run by
default (``-m "not slow"`` leaves them out); ``adb`` tests drive the real adb server and an
emulated phone; ``device`` tests need a real phone and are skipped unless one is configured:
``LUTNAS_TEST_RUNNER`` names the benchmark binary built for the phone (TFLite/LiteRT's
``benchmark_model``, or ``onnxruntime_perf_test``) and a running adb server sees an attached
device (tests/README.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys

import pytest

# tests import helpers that live beside them (contracts, adbemu, test_search_fixtures)
sys.path.insert(0, os.path.dirname(__file__))

from adbemu.fixtures import (  # noqa: E402,F401
    adb_server,
    benchmark_model_runner,
    perf_test_runner,
    phone,
    phone_factory,
)
from test_search_fixtures import both_spaces_predictor, small_predictor  # noqa: E402

from lutnas.errors import LutnasError  # noqa: E402


@pytest.fixture(autouse=True)
def _forget_loaded_spaces():
    """Spaces a test loads from files (or a LUT, a predictor) are forgotten after it, so tests
    may load two definitions under one name, one per test."""
    from lutnas.spaces.registry import isolated_spaces

    with isolated_spaces():
        yield


@pytest.fixture(scope="session")
def predictor_path(tmp_path_factory):
    """A small real predictor (see :func:`test_search_fixtures.small_predictor`), fitted once
    per session."""
    return small_predictor(tmp_path_factory.getbasetemp() / "search_predictor")


@pytest.fixture(scope="session")
def both_spaces_predictor_path(tmp_path_factory):
    """A small real predictor fitted on both spaces (see
    :func:`test_search_fixtures.both_spaces_predictor`), fitted once per session."""
    return both_spaces_predictor(tmp_path_factory.getbasetemp() / "search_predictor")


def _no_real_phone() -> str | None:
    """Why ``device`` tests cannot run here, or None when a real phone is ready."""
    if not os.environ.get("LUTNAS_TEST_RUNNER"):
        return (
            "needs a real phone: set LUTNAS_TEST_RUNNER to its benchmark binary "
            "(benchmark_model or onnxruntime_perf_test; see tests/README.md)"
        )
    if shutil.which("adb") is None:
        return "needs a real phone: adb is not on PATH"
    from profiler.adb.client import AdbClient, server_address

    try:
        with socket.socket() as s:  # never start a server here: only use one that runs
            if s.connect_ex(server_address()) != 0:
                return "needs a real phone: no adb server running (start it: adb start-server)"
        states = AdbClient().devices().values()
    except (OSError, LutnasError) as exc:
        return f"needs a real phone: the adb server did not list devices ({exc})"
    if "device" not in states:
        return "needs a real phone: adb sees no attached device"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    device_tests = [item for item in items if item.get_closest_marker("device")]
    if not device_tests:
        return
    reason = _no_real_phone()
    if reason:
        for item in device_tests:
            item.add_marker(pytest.mark.skip(reason=reason))
