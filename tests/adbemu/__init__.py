"""An emulated Android phone at the adb transport protocol, for tests of the adb backend.

``device.EmulatedDevice`` serves the device side of adb on loopback; a real adb server attaches
it with ``adb connect``. ``fixtures`` holds the pytest fixtures, ``fake_perf_test`` and
``fake_benchmark_model`` the stand-in benchmark runners the phone executes.
"""
