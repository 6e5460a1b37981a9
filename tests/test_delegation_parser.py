"""The delegation parser on transcripts of what TFLite/LiteRT really printed (SOURCES.md):
whole, partial, none and failed, in each release's wording, and the timing parser on the GPU
runs too (a delegated run's figures parse as any other)."""

from __future__ import annotations

import pytest
from test_adb_parsers import transcript

from profiler.adb.delegation import parse_delegation
from profiler.adb.parsers import parse_benchmark_model


def test_gpu_takes_the_whole_graph_2020():
    text = transcript("tflite_benchmark_2020_gpu_complete.txt")
    d = parse_delegation(text, "GPU")
    assert d.whole and d.kernels == 1 and not d.refused
    assert parse_benchmark_model(text).mean_ms == pytest.approx(119.375)


def test_gpu_partial_in_current_litert_wording():
    text = transcript("tflite_benchmark_litert_gpu_partial.txt")
    d = parse_delegation(text, "GPU")
    assert (d.status, d.kernels, d.on_delegate, d.on_cpu) == ("partial", 2, 10, 1)
    assert d.refused == ("MEAN: Operation is not supported.",)
    assert "took only part of the graph" in d.describe() and "MEAN" in d.describe()
    assert parse_benchmark_model(text).median_ms == pytest.approx(2.458)  # it did time it


def test_gpu_refusals_without_the_tools_summary_still_mean_partial():
    d = parse_delegation(transcript("tflite_benchmark_2.9_gpu_partial_logcat.txt"), "GPU")
    assert d.status == "partial" and d.refused == ("UNPACK: Operation is not supported.",)


def test_litert_2025_report_counts_and_refusals():
    d = parse_delegation(transcript("litert_gpu_partial_2025.txt"), "GPU")
    assert (d.status, d.on_delegate, d.on_cpu) == ("partial", 28, 116)
    assert len(d.refused) == 18 and d.refused[-1].startswith("TRANSPOSE: Max version")


def test_2019_wording_nothing_on_the_gpu():
    d = parse_delegation(transcript("gpu_delegate_2019_next_operations.txt"), "GPU")
    assert (d.status, d.on_delegate, d.on_cpu) == ("none", 0, 65)
    assert d.refused == ("ADD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE")


def test_2021_wording_through_android_studio_logcat():
    d = parse_delegation(transcript("gpu_delegate_2021_next_operations_logcat.txt"), "GPU")
    assert (d.status, d.on_delegate, d.on_cpu) == ("partial", 160, 7)
    assert d.refused == ("MEAN: Operation is not supported.",)


def test_gpu_that_takes_nothing():
    d = parse_delegation(transcript("tflite_benchmark_2.6_gpu_none.txt"), "GPU")
    assert d.status == "none" and d.kernels == 0


def test_nnapi_partial_and_failed():
    d = parse_delegation(transcript("tflite_benchmark_2.9_logcat.txt"), "NNAPI")
    assert (d.status, d.kernels) == ("partial", 44)
    failed = parse_delegation(transcript("tflite_benchmark_2.4_nnapi_failed.txt"), "NNAPI")
    assert failed.status == "failed" and "could not be applied" in failed.describe()


def test_xnnpack_whole_failed_and_silent():
    assert parse_delegation(transcript("tflite_benchmark_litert_percentiles.txt"), "XNNPACK").whole
    xnn = parse_delegation(transcript("tflite_benchmark_2.8_xnnpack_failed.txt"), "XNNPACK")
    assert xnn.status == "failed"
    # 2019 releases print no summary at all: unknown, never 'whole'
    assert parse_delegation(transcript("tflite_benchmark_2019.txt"), "XNNPACK").status == (
        "unknown"
    )


def test_a_summary_of_another_delegate_is_not_this_ones():
    text = transcript("tflite_benchmark_2.9_logcat.txt")  # NNAPI's summary
    assert parse_delegation(text, "GPU").status == "unknown"
    assert parse_delegation(text, "XNNPACK").status == "unknown"
