import os
import sys

# tests import helpers that live beside them (backend_contract, adbemu)
sys.path.insert(0, os.path.dirname(__file__))

from adbemu.fixtures import adb_server, perf_test_runner, phone, phone_factory  # noqa: E402,F401
