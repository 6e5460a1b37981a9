"""The runner-output parsers and the phone-fact parsers, on saved transcripts (no phone needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.adb import probe
from profiler.adb.parsers import (
    ParseError,
    parse_benchmark_model,
    parse_onnxruntime_perf_test,
    parse_perf_test_result_file,
)
from profiler.adb.runners import RunRequest, runner_kind

TRANSCRIPTS = Path(__file__).parent / "data" / "transcripts"


def transcript(name: str) -> str:
    return (TRANSCRIPTS / name).read_text()


def test_perf_test_recent_release_with_statistics():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_1.17_stats.txt"))
    assert r.mean_ms == pytest.approx(2.39544)
    assert r.median_ms == pytest.approx(2.36802)  # P50 is printed in seconds
    assert r.p90_ms == pytest.approx(2.51904)
    assert r.min_ms == pytest.approx(2.31147) and r.max_ms == pytest.approx(2.97331)
    assert r.n == 50 and r.warmup == 1 and not r.median_is_mean
    m = r.to_measurement()
    assert m.median_ms == r.median_ms and m.p10_ms is None and m.std_ms is None


def test_perf_test_2020_release_without_statistics_uses_the_mean():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_1.6_nostats.txt"))
    assert r.mean_ms == pytest.approx(9.13544)
    assert r.median_ms == r.mean_ms and r.median_is_mean
    assert r.n == 100 and r.p90_ms is None


def test_perf_test_2019_wording():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_2019_stats.txt"))
    assert r.mean_ms == pytest.approx(6.02085)
    assert r.median_ms == pytest.approx(5.94011)
    assert r.p90_ms == pytest.approx(6.2998)
    assert r.n == 200


def test_perf_test_result_file_rows_in_ms():
    samples = parse_perf_test_result_file(transcript("ort_perf_test_result_file.csv"))
    assert samples == pytest.approx([2.41873, 2.36121, 2.39904, 2.44518, 2.35377])


def test_perf_test_result_file_with_total_time_column():
    samples = parse_perf_test_result_file(transcript("ort_perf_test_result_file_2025.csv"))
    assert samples == pytest.approx([2.41873, 2.36121, 2.39904])


def test_benchmark_model_recent_release_microseconds_to_ms():
    r = parse_benchmark_model(transcript("tflite_benchmark_2.15.txt"))
    assert r.mean_ms == pytest.approx(2.23642)  # "Inference (avg): 2236.42" us
    assert r.median_ms == pytest.approx(2.224)  # median= of the timed run, not the warm-up's
    assert r.std_ms == pytest.approx(0.058)
    assert r.n == 50 and r.warmup == 10
    assert r.min_ms == pytest.approx(2.177) and r.max_ms == pytest.approx(2.498)


def test_benchmark_model_2020_release_has_no_median():
    r = parse_benchmark_model(transcript("tflite_benchmark_2.4.txt"))
    assert r.mean_ms == pytest.approx(12.1873)
    assert r.median_is_mean and r.median_ms == r.mean_ms
    assert r.n == 82 and r.warmup == 41 and r.std_ms == pytest.approx(0.139)


def test_benchmark_model_2019_average_line():
    r = parse_benchmark_model(transcript("tflite_benchmark_2019.txt"))
    assert r.mean_ms == pytest.approx(0.830126)
    assert r.n == 1204 and r.warmup == 598


@pytest.mark.parametrize("name", ["garbage.txt", "crash_partial.txt",
                                  "ort_perf_test_no_test_data.txt",
                                  "tflite_benchmark_2.15.txt"])
def test_perf_test_parser_refuses_output_without_timings(name):
    with pytest.raises(ParseError, match="Average inference time cost"):
        parse_onnxruntime_perf_test(transcript(name))


@pytest.mark.parametrize("name", ["garbage.txt", "ort_perf_test_1.17_stats.txt", ""])
def test_benchmark_model_parser_refuses_output_without_timings(name):
    with pytest.raises(ParseError):
        parse_benchmark_model(transcript(name) if name else "")


@pytest.mark.parametrize("text", [
    "Total inference requests: 10\nAverage inference time cost: nan ms\n",
    "Total inference requests: 10\nAverage inference time cost: -3 ms\n",
    "Average inference time cost: 2.0 ms\n",  # no run count
    "Total inference requests: 10\nAverage inference time cost: 2.0 ms\nP50 Latency: inf s\n",
])
def test_perf_test_parser_refuses_impossible_numbers(text):
    with pytest.raises(ParseError):
        parse_onnxruntime_perf_test(text)


def test_result_file_parser_refuses_other_text():
    with pytest.raises(ParseError):
        parse_perf_test_result_file(transcript("ort_perf_test_1.17_stats.txt"))


# phone facts ------------------------------------------------------------------------------

CPU_STATE = """\
cpu 0 1785600 576000 1785600
cpu 1 1785600 576000 1785600
cpu 4 2419200 710400 1574400
cpu 7 2841600 - 2841600
zone 0 41500 cpu-0-0-usr
zone 1 -273000 disabled-sensor
zone 2 36 battery
zone 3 - skin therm
"""


def test_cpu_state_parser():
    s = probe.parse_cpu_state(CPU_STATE)
    assert s.max_freq_khz == {0: 1785600, 1: 1785600, 4: 2419200, 7: 2841600}
    assert s.cur_freq_khz == {0: 576000, 1: 576000, 4: 710400}
    assert s.cap_freq_khz[4] == 1574400
    assert s.temps_c == {"thermal_zone0:cpu-0-0-usr": 41.5, "thermal_zone2:battery": 36.0}


def test_fastest_cores_and_masks():
    freqs = {0: 1785600, 1: 1785600, 2: 1785600, 3: 1785600,
             4: 2419200, 5: 2419200, 6: 2419200, 7: 2841600}
    assert probe.fastest_cores(freqs) == [7]
    assert probe.cpu_mask(probe.fastest_cores(freqs, 2)) == "c0"  # cpu 6 and the prime cpu 7
    same = {i: 2000000 for i in range(4)} | {i: 2800000 for i in range(4, 8)}
    assert probe.cpu_mask(probe.fastest_cores(same)) == "80"
    assert probe.parse_cpu_mask("0x30") == [4, 5]
    assert probe.clusters(freqs)[-1] == {"cpus": [7], "max_freq_khz": 2841600}


def test_getprop_listing():
    text = "[ro.product.model]: [Pixel 4]\n[ro.soc.model]: [SM8150]\n[empty]: []\n"
    assert probe.parse_getprop(text) == {"ro.product.model": "Pixel 4",
                                         "ro.soc.model": "SM8150", "empty": ""}


def test_runner_command_lines():
    req = RunRequest("/data/local/tmp/lutnas/onnxruntime_perf_test", "/d/m.onnx", warmup=10,
                     runs=50, threads=1, result_file="/d/r.csv")
    argv = runner_kind(None, "bin/onnxruntime_perf_test").command(req)
    assert argv[argv.index("-r") + 1] == "60"  # warm-up runs are dropped from the result file
    assert argv[argv.index("-x") + 1] == "1" and "-I" in argv and argv[-2:] == ["/d/m.onnx",
                                                                             "/d/r.csv"]
    tfl = runner_kind(None, "android_aarch64_benchmark_model").command(
        RunRequest("/x/benchmark_model", "/d/m.tflite", 5, 40, 1))
    assert "--num_runs=40" in tfl and "--warmup_runs=5" in tfl and "--graph=/d/m.tflite" in tfl
