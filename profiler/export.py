"""Model files for the runtimes, in one place, cached by workload key: ONNX and ``.tflite``.

ONNX: the TorchScript exporter (``dynamo=False``), several times faster per layer than the
dynamo exporter, which adds hours over a full LUT (figures: docs/how-it-works.md). TFLite:
lutnas's own writer (:mod:`profiler.tflite`; fp32, NHWC, BN folded, only ops XNNPACK
delegates), faster still (benchmarks/tflite_export_time.py).

Both go through :func:`cached_export`: a file is named by a hash of the workload key, its input
shape and the export settings, so a resumed or repeated run never exports a layer twice, and a
changed exporter never reuses a stale file. Files are written to a temporary name and renamed,
so a crash never leaves a half-written file under a cached name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from profiler.base import BackendError, Workload

OPSET = 17
EXPORTER = "torchscript"  # recorded in backend configs; changing it changes the numbers
TFLITE_EXPORTER = "lutnas-tflite"
TFLITE_WRITER_VERSION = 1  # bump whenever the .tflite files written change
# One lock per format: the cache's check-then-write, and torch.onnx keeps global state, so
# threads (several phones at once) export one at a time.
_LOCKS = {"onnx": threading.Lock(), "tflite": threading.Lock()}
_EXPORT_LOCK = _LOCKS["onnx"]

# writes a module (eval mode) for a batch-1 input of the given torch shape to a path
Writer = Callable[[torch.nn.Module, tuple[int, ...], Path], None]


def default_cache_dir(fmt: str = "onnx") -> Path:
    """``$LUTNAS_CACHE_DIR/<fmt>``, else ``$XDG_CACHE_HOME/lutnas/<fmt>`` or
    ``~/.cache/lutnas/<fmt>`` (``fmt``: onnx | tflite)."""
    root = os.environ.get("LUTNAS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lutnas"
    )
    return Path(root) / fmt


def export_settings() -> dict:
    """What makes the ONNX files (recorded in backend configs)."""
    return {"exporter": EXPORTER, "opset": OPSET, "torch": torch.__version__.split("+")[0]}


def tflite_export_settings() -> dict:
    """What makes the ``.tflite`` files (recorded in backend configs)."""
    return {
        "exporter": TFLITE_EXPORTER,
        "tflite_writer_version": TFLITE_WRITER_VERSION,
        "torch": torch.__version__.split("+")[0],
    }


def onnx_path(workload: Workload, cache_dir: Path | None = None) -> Path:
    """The ONNX file of ``workload`` (batch 1, fp32, opset :data:`OPSET`), exported on first
    use into ``cache_dir`` (default :func:`default_cache_dir`).

    Raises:
        BackendError: the export failed; the message names the workload.
    """
    return cached_export(workload, cache_dir, "onnx", export_settings(), _write_onnx)


def tflite_path(workload: Workload, cache_dir: Path | None = None) -> Path:
    """The ``.tflite`` file of ``workload`` (batch 1, fp32, NHWC input; see
    :mod:`profiler.tflite`), written on first use into ``cache_dir`` (default
    ``default_cache_dir("tflite")``).

    Raises:
        BackendError: the export failed (e.g. a module type the writer does not know); the
            message names the workload.
    """
    return cached_export(workload, cache_dir, "tflite", tflite_export_settings(), _write_tflite)


def cached_export(
    workload: Workload, cache_dir: Path | None, fmt: str, settings: dict, write: Writer
) -> Path:
    """The cached ``.<fmt>`` file of ``workload``, made by ``write`` if it is not there yet.

    The name hashes the workload key, input shape and ``settings``. ``write`` gets the module
    (``workload.build()``, eval mode), the input shape and a temporary path, which is renamed
    onto the cached name only once ``write`` has returned; on any failure it is removed.

    Raises:
        BackendError: building or writing failed; the message names the workload.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(fmt)
    tag = f"{workload.key}|{workload.input_shape}|{sorted(settings.items())}"
    path = cache_dir / f"{hashlib.sha1(tag.encode()).hexdigest()[:20]}.{fmt}"
    with _LOCKS[fmt]:
        if not path.exists():
            _export(workload, path, fmt, write)
    return path


def _export(workload: Workload, path: Path, fmt: str, write: Writer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with _one_torch_thread():
            module = workload.build()
            module.eval()
            write(module, tuple(workload.input_shape), tmp)
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written cached file
    except Exception as exc:
        label = {"onnx": "ONNX", "tflite": "TFLite"}.get(fmt, fmt)
        raise BackendError(f"exporting {workload.key} to {label} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


_THREADS_LOCK = threading.Lock()
_threads = {"exporting": 0, "before": 1}


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread while exporting: the trace's single forward pass gains nothing
    from more, and in a process pinned to one core (the timing process) the extra OpenMP
    threads spin against each other (an ONNX export took ~6x as long). Exports in several
    threads at once (phones) restore the count when the last one ends."""
    with _THREADS_LOCK:
        if _threads["exporting"] == 0:
            _threads["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _threads["exporting"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads["exporting"] -= 1
            if _threads["exporting"] == 0:
                torch.set_num_threads(_threads["before"])


def _write_onnx(module: torch.nn.Module, input_shape: Sequence[int], path: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module,
            (torch.randn(tuple(input_shape)),),
            str(path),
            input_names=["input"],
            output_names=["output"],
            opset_version=OPSET,
            dynamo=False,
        )


def _write_tflite(module: torch.nn.Module, input_shape: Sequence[int], path: Path) -> None:
    from profiler.tflite import module_to_tflite  # ai_edge_litert loads only when needed

    path.write_bytes(module_to_tflite(module, input_shape))
