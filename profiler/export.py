"""Model files for the runtimes, in one place, cached by workload key: ONNX and ``.tflite``.

ONNX: lutnas's own writer (:mod:`profiler.onnxwrite`; opset 17, batch 1, fp32, NCHW), which
writes the graph the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) makes of
lutnas's layer and network modules, op for op, in a fraction of its time
(benchmarks/onnx_export_time.py); a module type it does not know (torchvision's own networks)
is exported by the TorchScript exporter, as every file was before. A LUT records which made its
files (``exporter`` in its backend config): one begun with ``torchscript`` goes on with the
TorchScript exporter when resumed (:func:`recorded_exporter`), so its files and numbers do not
change. TFLite: lutnas's own writer (:mod:`profiler.tflite`; fp32, NHWC, BN folded, only ops
XNNPACK delegates), faster still (benchmarks/tflite_export_time.py).

Both go through :func:`cached_export`: a file is named by a hash of the workload key, its input
shape and the export settings, so a resumed or repeated run never exports a layer twice, and a
changed exporter never reuses a stale file. Files are written to a temporary name and renamed,
so a crash never leaves a half-written file under a cached name, and a cached file is used only
while its bytes match the hash recorded beside it (:mod:`profiler.cache_entry`): a damaged one
is exported again, with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from lutnas.errors import LutnasError
from profiler import cache_entry
from profiler.base import BackendError, Workload

log = logging.getLogger(__name__)

OPSET = 17
# The ONNX exporters a backend config may name: lutnas's writer (new LUTs), and the TorchScript
# exporter every LUT before it was made with (resumed with it). Recorded in backend configs.
EXPORTER = "lutnas-onnx"
TORCHSCRIPT = "torchscript"
ONNX_EXPORTERS = (EXPORTER, TORCHSCRIPT)
ONNX_WRITER_VERSION = 1  # bump whenever the ONNX files lutnas's writer makes change
TFLITE_EXPORTER = "lutnas-tflite"
TFLITE_WRITER_VERSION = 1  # bump whenever the .tflite files written change
TFLITE_INT8_VERSION = 1  # bump whenever the int8 files written change (profiler.tflite.int8)
# One lock per format: the cache's check-then-write, and torch.onnx keeps global state, so
# threads (several phones at once) export one at a time.
_LOCKS = {"onnx": threading.Lock(), "tflite": threading.Lock()}
_EXPORT_LOCK = _LOCKS["onnx"]

# writes a module (eval mode) for a batch-1 input of the given torch shape to a path; a module
# taking several tensors (an add, a concat) gets the tuple of their shapes (:func:`shapes_arg`)
Writer = Callable[[torch.nn.Module, tuple, Path], None]


def default_cache_dir(fmt: str = "onnx") -> Path:
    """``$LUTNAS_CACHE_DIR/<fmt>``, else ``$XDG_CACHE_HOME/lutnas/<fmt>`` or
    ``~/.cache/lutnas/<fmt>`` (``fmt``: onnx | tflite)."""
    root = os.environ.get("LUTNAS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lutnas"
    )
    return Path(root) / fmt


def export_settings(exporter: str = EXPORTER) -> dict:
    """What makes the ONNX files of ``exporter`` (one of :data:`ONNX_EXPORTERS`; recorded in
    backend configs). The TorchScript exporter's are the fields every LUT before lutnas's writer
    recorded, unchanged, so such a LUT still resumes."""
    torch_version = torch.__version__.split("+")[0]
    settings = {"exporter": _known(exporter), "opset": OPSET, "torch": torch_version}
    if exporter == EXPORTER:
        settings["onnx_writer_version"] = ONNX_WRITER_VERSION
    return settings


def _known(exporter: str) -> str:
    if exporter not in ONNX_EXPORTERS:
        raise ValueError(f"ONNX exporter must be one of {ONNX_EXPORTERS}, not {exporter!r}")
    return exporter


def onnx_exporter_of(config: dict) -> str:
    """The ONNX exporter a backend config records (lutnas's writer when it names none, or
    names a ``.tflite`` writer)."""
    recorded = config.get("exporter")
    return recorded if recorded in ONNX_EXPORTERS else EXPORTER


def recorded_exporter(path: str | Path, resume: bool = True) -> str | None:
    """The ONNX exporter of the LUT at ``path`` when a run resumes it (``resume`` and the file
    there), so a LUT begun with the TorchScript exporter goes on with it; None for a new LUT
    (or a file that is no LUT: opening it says so).
    """
    from lut.store import LutStore

    path = Path(path)
    if not resume or not path.is_file():
        return None
    try:
        with LutStore.open(path, writable=False) as store:
            config = store.backend_config
    except LutnasError:
        return None
    return onnx_exporter_of(config) if "exporter" in config else None


def tflite_export_settings(precision: str = "fp32") -> dict:
    """What makes the ``.tflite`` files of ``precision`` (recorded in backend configs). fp32
    and fp16 time the same fp32 file; int8 adds the int8 writer and its calibration."""
    settings = {
        "exporter": TFLITE_EXPORTER,
        "tflite_writer_version": TFLITE_WRITER_VERSION,
        "torch": torch.__version__.split("+")[0],
    }
    if precision == "int8":
        from profiler.tflite.calibrate import CALIBRATION_SAMPLES, CALIBRATION_SEED

        settings |= {
            "tflite_int8_version": TFLITE_INT8_VERSION,
            "calibration_samples": CALIBRATION_SAMPLES,
            "calibration_seed": CALIBRATION_SEED,
        }
    return settings


def onnx_path(workload: Workload, cache_dir: Path | None = None, exporter: str = EXPORTER) -> Path:
    """The ONNX file of ``workload`` (batch 1, fp32, opset :data:`OPSET`), made on first use
    into ``cache_dir`` (default :func:`default_cache_dir`) by ``exporter``: lutnas's writer
    (which hands a module type it does not know to the TorchScript exporter), or the
    TorchScript exporter alone for a LUT begun with it.

    Raises:
        BackendError: the export failed; the message names the workload.
    """
    write = _write_onnx if exporter == EXPORTER else _write_torchscript
    return cached_export(workload, cache_dir, "onnx", export_settings(exporter), write)


def tflite_path(workload: Workload, cache_dir: Path | None = None, precision: str = "fp32") -> Path:
    """The ``.tflite`` file that times ``workload`` at ``precision`` (batch 1, NHWC input; fp32
    for fp32 and fp16, fully quantized for int8; see :mod:`profiler.tflite`), written on first
    use into ``cache_dir`` (default ``default_cache_dir("tflite")``).

    Raises:
        BackendError: the export failed (e.g. a module type the writer does not know, an int8
            graph the checks refuse); the message names the workload.
    """
    settings = tflite_export_settings(precision)
    write = functools.partial(_write_tflite, precision=precision)
    return cached_export(workload, cache_dir, "tflite", settings, write)


def cached_export(
    workload: Workload, cache_dir: Path | None, fmt: str, settings: dict, write: Writer
) -> Path:
    """The cached ``.<fmt>`` file of ``workload``, made by ``write`` if it is not there yet.

    The name hashes the workload key, input shape and ``settings``. ``write`` gets the module
    (``workload.build()``, eval mode), the input shape and a temporary path, which is renamed
    onto the cached name only once ``write`` has returned; on any failure it is removed. A
    cached file is used only if it still matches its recorded hash, else written again.

    Raises:
        BackendError: building or writing failed; the message names the workload.
        LutnasError: the cache directory is full or not writable (the message names it).
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(fmt)
    tag = f"{workload.key}|{shapes_arg(workload)}|{sorted(settings.items())}"
    path = cache_dir / f"{hashlib.sha1(tag.encode()).hexdigest()[:20]}.{fmt}"
    with _LOCKS[fmt]:
        if not cache_entry.verified(path):
            _export(workload, path, fmt, write)
    return path


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _storage_error(exc: BaseException) -> OSError | None:
    """The full-disk or permission error behind ``exc`` (its chain), if that is what it is."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _export(workload: Workload, path: Path, fmt: str, write: Writer) -> None:
    label = {"onnx": "ONNX", "tflite": "TFLite"}.get(fmt, fmt)
    tmp = cache_entry.temp_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cache_entry.sweep(path.parent)
        with _one_torch_thread():
            module = workload.build()
            module.eval()
            write(module, shapes_arg(workload), tmp)
        cache_entry.publish(tmp, path)
    except Exception as exc:
        storage = _storage_error(exc)
        if storage is not None:  # every further export would fail alike: stop, name the place
            raise LutnasError(
                f"cannot write the export cache {path.parent} ({storage.strerror}) while "
                f"exporting {workload.key} to {label}; free space there or set LUTNAS_CACHE_DIR "
                "to a writable directory with room, then run the same command again: finished "
                "rows are saved"
            ) from None
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


def shapes_arg(workload: Workload) -> tuple:
    """What a :data:`Writer` gets: the input shape, or the tuple of every input's shape for a
    workload of several inputs (single-input files keep the names they always had)."""
    if workload.more_input_shapes:
        return workload.input_shapes
    return tuple(workload.input_shape)


def input_shape_list(shapes: tuple) -> list[tuple[int, ...]]:
    """A :data:`Writer`'s shape argument as a list of input shapes."""
    if shapes and isinstance(shapes[0], (tuple, list)):
        return [tuple(int(d) for d in s) for s in shapes]
    return [tuple(int(d) for d in shapes)]


def _write_onnx(module: torch.nn.Module, input_shape: Sequence, path: Path) -> None:
    """lutnas's writer; the TorchScript exporter for a module it does not know (and, with a
    warning, for one it fails on: a file is made wherever the exporter alone made one)."""
    from profiler.onnxwrite import UnknownModule, onnx_bytes

    try:
        data = onnx_bytes(module, input_shape, OPSET)
    except UnknownModule:
        data = None
    except Exception as exc:
        log.warning("lutnas's ONNX writer failed (%s); the TorchScript exporter writes it", exc)
        data = None
    if data is None:
        _write_torchscript(module, input_shape, path)
    else:
        path.write_bytes(data)


def _write_torchscript(module: torch.nn.Module, input_shape: Sequence, path: Path) -> None:
    from profiler.onnxwrite.torchscript import write_torchscript_onnx

    write_torchscript_onnx(module, input_shape_list(tuple(input_shape)), path, OPSET)


def _write_tflite(
    module: torch.nn.Module, input_shape: Sequence[int], path: Path, precision: str = "fp32"
) -> None:
    from profiler.tflite import tflite_bytes  # ai_edge_litert loads only when needed

    path.write_bytes(tflite_bytes(module, input_shape, precision))
