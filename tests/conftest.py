import os
import sys

# tests import helpers that live beside them (backend_contract, adbemu)
sys.path.insert(0, os.path.dirname(__file__))

from adbemu.fixtures import (  # noqa: E402,F401
    adb_server,
    benchmark_model_runner,
    perf_test_runner,
    phone,
    phone_factory,
)
