"""Talking to Android phones: the adbutils wrapper (``client``), device facts (``probe``),
throttling (``thermal``), runner command lines (``runners``) and their output parsers
(``parsers``). The backend itself is :mod:`profiler.backends.adb`."""
