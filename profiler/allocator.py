"""Steady memory allocation while timing an eager framework: glibc malloc's thresholds fixed.

Torch eager allocates every activation of every forward call with ``malloc`` and frees it at
the end. glibc serves large blocks with ``mmap`` and returns the top of its heap to the OS, and
it moves both thresholds as the process runs (a freed mmapped block raises them). So whether a
forward call page-faults on fresh memory depends on what the process did before: measured on
this project's VM (1 thread, MnasNet-space models at 224), a model built in a fresh process took
0 to 24,000 minor page faults per forward call, and its latency moved with them (60 to 82 ms
for one model, up to 1.5× between two timings of one model minutes apart). Fixing both
thresholds (``mallopt``) once stops it: forward calls reuse the heap, and the same model built
three times timed within 3 %. The heap still grows now and then while its free blocks settle
(a mid-network layer at 112x112, 50 timed calls after 10 warm-up: 0 to 2 calls touched fresh
pages, against 46 to 50 without the fix), which a median does not feel. PyTorch's and Intel's
CPU performance-tuning guides recommend another allocator (jemalloc or tcmalloc, LD_PRELOADed)
for the same reason; this needs nothing installed and no restart.

ONNX Runtime and LiteRT allocate activations from their own arenas once per session and took 0
faults per call either way, so only the torch backend needs this. The setting lasts for the
process (glibc has no way back to the moving thresholds); the cost is memory freed by the
process staying mapped, which a profiling run does not mind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 << 20  # blocks below this come from the heap (no fresh pages)
MMAP_THRESHOLD_FALLBACK_BYTES = 32 << 20  # the largest value older glibc accepts
TRIM_THRESHOLD_BYTES = 1 << 30  # the heap's top is kept until this much is free
STEADY = "glibc malloc, fixed mmap and trim thresholds"
UNCHANGED = "system default"


@functools.cache
def steady_allocator() -> str:
    """Fix glibc malloc's mmap and trim thresholds for this process (once; later calls return
    the first result). Returns :data:`STEADY`, or :data:`UNCHANGED` where the C library is not
    glibc (macOS, musl), whose allocator is left as it is."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return UNCHANGED
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return UNCHANGED
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) or mallopt(
        _M_MMAP_THRESHOLD, MMAP_THRESHOLD_FALLBACK_BYTES
    )
    trim_ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return STEADY if mmap_ok and trim_ok else UNCHANGED
