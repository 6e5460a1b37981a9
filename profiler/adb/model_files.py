"""The model file a phone's runner times for a workload, and the settings that make it (part
of the backend's config: they change the numbers). ``benchmark_model`` runs a ``.tflite`` file
of the run's precision with its delegate's settings (:mod:`profiler.adb.delegates`);
``onnxruntime_perf_test`` runs an ONNX file of the exporter the LUT records
(:mod:`profiler.export`)."""

from __future__ import annotations

from pathlib import Path

from profiler.adb import delegates
from profiler.base import Workload
from profiler.export import export_settings, onnx_path, tflite_export_settings, tflite_path
from profiler.precision import file_precision


def model_settings(suffix: str, precision: str, delegate: str, onnx_exporter: str) -> dict:
    """How a runner taking ``suffix`` files is given its models."""
    if suffix == ".tflite":
        return {
            **tflite_export_settings(file_precision(precision)),
            **delegates.delegate_settings(precision, delegate),
        }
    return export_settings(onnx_exporter)


def model_file(
    workload: Workload, suffix: str, cache_dir: Path | None, precision: str, onnx_exporter: str
) -> Path:
    """The cached file of ``workload`` for a runner taking ``suffix`` files, made if missing."""
    if suffix == ".tflite":
        return tflite_path(workload, cache_dir, file_precision(precision))
    return onnx_path(workload, cache_dir, onnx_exporter)
