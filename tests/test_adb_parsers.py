"""The runner-output parsers and the phone-fact parsers, on saved transcripts (no phone needed).

Every transcript in tests/data/transcripts says where its format comes from in its leading
``#`` lines (a real run quoted from a public source, or a reconstruction from the release's
printing code); SOURCES.md lists them. Expected numbers are read off the transcripts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lut.measurement import noise
from profiler.adb import probe
from profiler.adb.parsers import (
    ParseError,
    parse_benchmark_model,
    parse_onnxruntime_perf_test,
    parse_perf_test_result_file,
)
from profiler.adb.runners import RUNNERS, RunRequest, runner_kind, runner_kind_from_help

TRANSCRIPTS = Path(__file__).parent / "data" / "transcripts"
ORT = "onnxruntime_perf_test"
TFLITE = "benchmark_model"


def transcript(name: str) -> str:
    """A saved transcript without its leading ``#`` provenance lines."""
    lines = (TRANSCRIPTS / name).read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def test_every_transcript_says_where_it_comes_from():
    sources = (TRANSCRIPTS / "SOURCES.md").read_text()
    for path in TRANSCRIPTS.iterdir():
        if path.name == "SOURCES.md":
            continue
        head = path.read_text().splitlines()[0]
        assert head.startswith("# "), path.name
        assert f"`{path.name}`" in sources, path.name
        text = path.read_text()
        assert "REAL" in text or "RECONSTRUCTED" in text or "CONSTRUCTED" in text, path.name


# onnxruntime_perf_test ---------------------------------------------------------------------


def test_perf_test_1_23_cost_total_with_statistics():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_1.23.2_sme2.txt"))
    assert r.mean_ms == pytest.approx(98.961997)  # "Average inference time cost total:"
    assert r.median_ms == pytest.approx(99.5086)  # P50 is printed in seconds
    assert r.p90_ms == pytest.approx(101.519) and r.p95_ms == pytest.approx(101.519)
    assert r.min_ms == pytest.approx(95.8204) and r.max_ms == pytest.approx(101.519)
    assert r.n == 5 and r.warmup == 1 and not r.median_is_mean
    m = r.to_measurement()
    assert m.median_ms == r.median_ms and m.p10_ms is None and m.std_ms is None


def test_perf_test_2025_old_wording_with_statistics():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_2025_Z_old_wording.txt"))
    assert r.mean_ms == pytest.approx(1.85739)  # "Average inference time cost:"
    assert r.median_ms == pytest.approx(1.85674) and r.p90_ms == pytest.approx(1.87215)
    assert r.min_ms == pytest.approx(1.83404) and r.max_ms == pytest.approx(1.90312)
    assert r.n == 100 and not r.median_is_mean


def test_perf_test_with_result_file_prints_no_statistics_so_the_mean_stands_in():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_1.3.1_result_file.txt"))
    assert r.mean_ms == pytest.approx(144.871)
    assert r.median_ms == r.mean_ms and r.median_is_mean
    assert r.n == 10 and r.p90_ms is None and r.min_ms is None


def test_perf_test_2020_wording_without_spaces():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_2020-01_no_space.txt"))
    assert r.mean_ms == pytest.approx(734.606)
    assert r.n == 1 and r.median_is_mean


def test_perf_test_2019_wording():
    r = parse_onnxruntime_perf_test(transcript("ort_perf_test_2019_readme.txt"))
    assert r.mean_ms == pytest.approx(58.8053)  # "Average time cost:58.8053 ms"
    assert r.median_ms == pytest.approx(58.7108)  # "P50 Latency is 0.0587108sec"
    assert r.p90_ms == pytest.approx(59.9845) and r.p95_ms == pytest.approx(60.5676)
    assert r.min_ms == pytest.approx(55.9777) and r.max_ms == pytest.approx(62.3472)
    assert r.n == 1000


def test_perf_test_result_file_rows_in_ms():
    samples = parse_perf_test_result_file(transcript("ort_perf_test_result_file_1.22.csv"))
    assert samples == pytest.approx([2.41873, 2.36121, 2.39904, 2.44518, 2.35377])


def test_perf_test_result_file_with_total_time_column():
    samples = parse_perf_test_result_file(transcript("ort_perf_test_result_file_2025.csv"))
    assert samples == pytest.approx([2.41873, 2.36121, 2.39904])  # the total, not the submit


@pytest.mark.parametrize(
    "name",
    [
        "garbage.txt",
        "crash_partial.txt",
        "ort_perf_test_no_test_data.txt",
        "ort_perf_test_help_getopt.txt",
        "ort_perf_test_help_absl.txt",
        "ort_perf_test_bad_args_absl.txt",
        "tflite_benchmark_litert_percentiles.txt",
        "tflite_benchmark_2.4_yolov5s.txt",
    ],
)
def test_perf_test_parser_refuses_output_without_timings(name):
    with pytest.raises(ParseError, match="Average inference time cost"):
        parse_onnxruntime_perf_test(transcript(name))


@pytest.mark.parametrize(
    "text",
    [
        "Total inference requests: 10\nAverage inference time cost: nan ms\n",
        "Total inference requests: 10\nAverage inference time cost total: -3.000000 ms\n",
        "Average inference time cost total: 2.000000 ms\n",  # no run count
        "Total inference requests: 10\nAverage inference time cost: 2.0 ms\nP50 Latency: inf s\n",
    ],
)
def test_perf_test_parser_refuses_impossible_numbers(text):
    with pytest.raises(ParseError):
        parse_onnxruntime_perf_test(text)


def test_result_file_parser_refuses_other_text():
    with pytest.raises(ParseError):
        parse_perf_test_result_file(transcript("ort_perf_test_1.23.2_sme2.txt"))


# TFLite benchmark_model --------------------------------------------------------------------


def test_benchmark_model_litert_percentiles_microseconds_to_ms():
    r = parse_benchmark_model(transcript("tflite_benchmark_litert_percentiles.txt"))
    assert r.mean_ms == pytest.approx(2.23612)  # "Inference (avg): 2236.12" us
    assert r.median_ms == pytest.approx(2.234)  # median= of the timed run, not the warm-up's
    assert r.p5_ms == pytest.approx(2.166) and r.p95_ms == pytest.approx(2.314)
    assert r.std_ms == pytest.approx(0.044)
    assert r.min_ms == pytest.approx(2.149) and r.max_ms == pytest.approx(2.378)
    assert r.n == 50 and r.warmup == 10 and not r.median_is_mean


def test_benchmark_model_scientific_avg_and_op_profiling_timings_are_not_the_run():
    r = parse_benchmark_model(transcript("tflite_benchmark_litert_scientific_op_profiling.txt"))
    assert r.mean_ms == pytest.approx(1238.58)  # "Inference (avg): 1.23858e+06"
    assert r.median_ms == pytest.approx(1238.979)
    # the run's line (min=1219624 std=9886), not "Timings (microseconds): ... min=1219611"
    assert r.min_ms == pytest.approx(1219.624) and r.std_ms == pytest.approx(9.886)
    assert r.n == 20 and r.warmup == 1  # the warm-up line: "count=1 curr=1412337 p5=..."


def test_benchmark_model_litert_through_logcat():
    r = parse_benchmark_model(transcript("tflite_benchmark_litert_logcat.txt"))
    assert r.mean_ms == pytest.approx(0.830126)
    assert r.median_ms == pytest.approx(0.827) and r.p95_ms == pytest.approx(0.869)
    assert r.n == 1204 and r.warmup == 598


def test_benchmark_model_2_13_info_prefix_has_no_median():
    r = parse_benchmark_model(transcript("tflite_benchmark_2.13_info.txt"))
    assert r.mean_ms == pytest.approx(116.066)
    assert r.median_is_mean and r.median_ms == r.mean_ms and r.p5_ms is None
    assert r.std_ms == pytest.approx(1.906)
    assert r.min_ms == pytest.approx(111.222) and r.max_ms == pytest.approx(121.324)
    assert r.n == 50 and r.warmup == 5


def test_benchmark_model_with_android_studio_logcat_columns():
    # Android Studio's logcat columns (as quoted in ultralytics/ultralytics#3172) put in front
    # of the real 2.13 lines, without their "INFO: "
    prefix = (
        "2023-06-14 10:55:21.084 18088-18088 tflite                  "
        "org.tensorflow.lite.benchmark        I  "
    )
    lines = transcript("tflite_benchmark_2.13_info.txt").splitlines()
    text = "\n".join(prefix + line.removeprefix("INFO: ") for line in lines if line)
    r = parse_benchmark_model(text)
    assert r.mean_ms == pytest.approx(116.066) and r.n == 50 and r.warmup == 5


def test_benchmark_model_2_9_logcat():
    r = parse_benchmark_model(transcript("tflite_benchmark_2.9_logcat.txt"))
    assert r.mean_ms == pytest.approx(12.1676) and r.std_ms == pytest.approx(0.325)
    assert r.min_ms == pytest.approx(11.787) and r.max_ms == pytest.approx(13.649)
    assert r.n == 75 and r.warmup == 40


def test_benchmark_model_2_8_op_profiling_and_scientific_notation():
    r = parse_benchmark_model(transcript("tflite_benchmark_2.8_op_profiling.txt"))
    assert r.mean_ms == pytest.approx(2950.34)  # "Inference (avg): 2.95034e+06"
    assert r.std_ms == pytest.approx(109.798)  # not the op profile's "std=109770"
    assert r.min_ms == pytest.approx(2727.568) and r.max_ms == pytest.approx(3189.954)
    assert r.n == 50 and r.warmup == 1 and r.median_is_mean  # warm-up: "count=1 curr=3512391"


def test_benchmark_model_2_4_trimmed_to_the_timed_run():
    r = parse_benchmark_model(transcript("tflite_benchmark_2.4_yolov5s.txt"))
    assert r.mean_ms == pytest.approx(249.684) and r.std_ms == pytest.approx(1.442)
    assert r.min_ms == pytest.approx(247.067) and r.max_ms == pytest.approx(254.474)
    assert r.n == 50 and r.warmup == 1  # no warm-up line: the tool's default


def test_benchmark_model_2019_average_line():
    r = parse_benchmark_model(transcript("tflite_benchmark_2019.txt"))
    assert r.mean_ms == pytest.approx(0.830126)  # "no stats: 830.126"
    assert r.std_ms == pytest.approx(0.025)
    assert r.n == 1204 and r.warmup == 598


def test_benchmark_model_1_12_on_stderr_with_the_2018_wording():
    # "Running benchmark for N iterations" (no "at least"); the whole log was on stderr then,
    # so the parser is given what `2>&1` merges
    r = parse_benchmark_model(transcript("tflite_benchmark_1.12_stderr.txt"))
    assert r.mean_ms == pytest.approx(137.722)  # "no stats: 137722"
    assert r.std_ms == pytest.approx(0.896) and r.min_ms == pytest.approx(137.079)
    assert r.n == 50 and r.warmup == 1 and r.median_is_mean


def test_benchmark_model_2019_android_warmup_outlier_is_not_the_run():
    r = parse_benchmark_model(transcript("tflite_benchmark_2019_android.txt"))
    assert r.mean_ms == pytest.approx(66.7676) and r.std_ms == pytest.approx(0.039)
    assert r.max_ms == pytest.approx(66.838)  # not the warm-up's max=127425
    assert r.n == 15 and r.warmup == 7 and r.median_is_mean


def test_benchmark_model_2020_peak_memory_wording():
    r = parse_benchmark_model(transcript("tflite_benchmark_2020_android.txt"))
    assert r.mean_ms == pytest.approx(33.2094) and r.std_ms == pytest.approx(0.450)
    assert r.n == 50 and r.warmup == 15 and r.median_is_mean


@pytest.mark.parametrize(
    "name, basis",
    [
        ("tflite_benchmark_litert_percentiles.txt", "p5-p95"),
        ("tflite_benchmark_2.13_info.txt", "std/mean"),
        ("tflite_benchmark_1.12_stderr.txt", "std/mean"),
    ],
)
def test_the_row_keeps_what_the_runner_printed(name, basis):
    r = parse_benchmark_model(transcript(name))
    m = r.to_measurement()
    assert (m.p5_ms, m.p95_ms, m.median_is_mean) == (r.p5_ms, r.p95_ms, r.median_is_mean)
    value, got = noise(m.median_ms, m.p10_ms, m.p90_ms, m.p5_ms, m.p95_ms, m.std_ms, m.mean_ms)
    assert got == basis and value == pytest.approx(m.robust_cv)
    if basis == "p5-p95":  # (2314 - 2166) / (2 * 1.6449 * 2234): outliers do not count
        assert value == pytest.approx(0.148 / (2 * 1.6449 * 2.234))
    else:
        assert value == pytest.approx(m.std_ms / m.mean_ms)


def test_benchmark_model_runs_that_all_took_the_same_time():
    text = (
        "INFO: Running benchmark for at least 0 iterations and at least 0 seconds but "
        "terminate if exceeding 150 seconds.\nINFO: count=0 p5=0 median=0 p95=0\n\n"
        "INFO: Running benchmark for at least 4 iterations and at least 0 seconds but "
        "terminate if exceeding 150 seconds.\n"
        "INFO: count=4 curr=1500(all same) p5=1500 median=1500 p95=1500\n\n"
        "INFO: Inference timings in us: Init: 900, First inference: 0, Warmup (avg): 0, "
        "Inference (avg): 1500\n"
    )
    r = parse_benchmark_model(text)
    assert r.n == 4 and r.warmup == 0 and r.std_ms == 0.0
    assert r.median_ms == r.min_ms == r.max_ms == pytest.approx(1.5)


@pytest.mark.parametrize(
    "name",
    [
        "garbage.txt",
        "tflite_benchmark_2.4_nnapi_failed.txt",
        "tflite_benchmark_2.8_xnnpack_failed.txt",
        "tflite_benchmark_missing_graph.txt",
        "tflite_benchmark_help.txt",
        "ort_perf_test_1.23.2_sme2.txt",
        "",
    ],
)
def test_benchmark_model_parser_refuses_output_without_timings(name):
    with pytest.raises(ParseError):
        parse_benchmark_model(transcript(name) if name else "")


@pytest.mark.parametrize(
    "text",
    [
        # the op profile's totals are never the run: the run's own line is missing here
        "Running benchmark for at least 50 iterations and at least 1 seconds\n"
        "Inference timings in us: Init: 1, First inference: 2, Warmup (avg): 2, "
        "Inference (avg): 2\n"
        "Timings (microseconds): count=50 first=2 curr=2 min=1 max=3 avg=2 std=0\n",
        "count=50 first=2 curr=2 min=1 max=3 avg=2 std=0\nInference timings in us: Init: 1, "
        "First inference: 2, Warmup (avg): 2, Inference (avg): nan\n",
        "INFO: count=0\nINFO: Inference timings in us: Init: 1, First inference: 0, "
        "Warmup (avg): 0, Inference (avg): 0\n",
    ],
)
def test_benchmark_model_parser_refuses_impossible_output(text):
    with pytest.raises(ParseError):
        parse_benchmark_model(text)


# help texts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ort_perf_test_help_getopt.txt", ORT),
        ("ort_perf_test_help_absl.txt", ORT),
        ("ort_perf_test_bad_args_absl.txt", ORT),
        ("tflite_benchmark_help.txt", TFLITE),
        ("tflite_benchmark_missing_graph.txt", None),
        ("garbage.txt", None),
        ("ort_perf_test_1.23.2_sme2.txt", None),
        ("tflite_benchmark_2.13_info.txt", None),
    ],
)
def test_runner_kind_from_help_transcripts(name, kind):
    found = runner_kind_from_help(transcript(name))
    assert (found.name if found else None) == kind


def test_runner_kind_from_help_short_answers():
    no_graph = (
        "INFO: STARTING!\nERROR: Please specify the name of your TF Lite input file "
        "with --graph\nERROR: Benchmarking failed.\n"
    )
    assert runner_kind_from_help(no_graph) is RUNNERS[TFLITE]
    assert runner_kind_from_help("hello from a tool nobody knows\n") is None
    assert runner_kind_from_help("") is None
    both = transcript("ort_perf_test_help_getopt.txt") + transcript("tflite_benchmark_help.txt")
    assert runner_kind_from_help(both) is None


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
    freqs = {
        0: 1785600,
        1: 1785600,
        2: 1785600,
        3: 1785600,
        4: 2419200,
        5: 2419200,
        6: 2419200,
        7: 2841600,
    }
    assert probe.fastest_cores(freqs) == [7]
    assert probe.cpu_mask(probe.fastest_cores(freqs, 2)) == "c0"  # cpu 6 and the prime cpu 7
    same = {i: 2000000 for i in range(4)} | {i: 2800000 for i in range(4, 8)}
    assert probe.cpu_mask(probe.fastest_cores(same)) == "80"
    assert probe.parse_cpu_mask("0x30") == [4, 5]
    assert probe.clusters(freqs)[-1] == {"cpus": [7], "max_freq_khz": 2841600}


def test_getprop_listing():
    text = "[ro.product.model]: [Pixel 4]\n[ro.soc.model]: [SM8150]\n[empty]: []\n"
    assert probe.parse_getprop(text) == {
        "ro.product.model": "Pixel 4",
        "ro.soc.model": "SM8150",
        "empty": "",
    }


def test_runner_command_lines():
    req = RunRequest(
        runner="/data/local/tmp/lutnas/onnxruntime_perf_test",
        model="/d/m.onnx",
        warmup=10,
        runs=50,
        threads=1,
        result_file="/d/r.csv",
    )
    argv = runner_kind(None, "bin/onnxruntime_perf_test").command(req)
    assert argv[argv.index("-r") + 1] == "60"  # warm-up runs are dropped from the result file
    assert (
        argv[argv.index("-x") + 1] == "1"
        and "-I" in argv
        and argv[-2:] == ["/d/m.onnx", "/d/r.csv"]
    )
    tfl = runner_kind(None, "android_aarch64_benchmark_model").command(
        RunRequest(runner="/x/benchmark_model", model="/d/m.tflite", warmup=5, runs=40, threads=1)
    )
    assert tfl == [
        "/x/benchmark_model",
        "--graph=/d/m.tflite",
        "--num_threads=1",
        "--num_runs=40",
        "--warmup_runs=5",
        "--min_secs=0",
        "--warmup_min_secs=0",
        "--use_xnnpack=true",
    ]
