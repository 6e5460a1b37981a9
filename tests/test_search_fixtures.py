"""Helpers of the search tests (no tests here): a small real predictor, a cheap deterministic
accuracy function usable from worker processes, a search built in a few lines and the
arguments of a small ``lutnas search``.

Importable without pytest, so subprocesses and spawned workers (``PYTHONPATH=tests``) can load
``test_search_fixtures:fake_accuracy`` as a ``--evaluator callable`` target.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path

from lutnas.spaces.arch import Arch

RESOLUTION = 160  # the search space's smallest resolution: predictions stay near the data


def small_predictor(directory: Path) -> Path:
    """A real predictor (onnxruntime measurements, XGBoost), fitted once per test session:
    MobileNetV2 variants at 160 px (layers of 12, whole models of 6). About 30 s with a cold
    ONNX cache, a few seconds with a warm one. Reused when ``directory`` already holds it."""
    path = directory / "small.predictor"
    if (path / "meta.json").is_file():
        return path
    from predictor_fixtures import build_lut, variants

    from predictor import LatencyPredictor

    directory.mkdir(parents=True, exist_ok=True)
    archs = [dataclasses.replace(a, resolution=RESOLUTION) for a in variants(12)]
    lut = build_lut(directory / "small.lut", archs[:6], extra_layers_of=archs[6:])
    LatencyPredictor.fit(lut).save(path)
    return path


def both_spaces_predictor(directory: Path) -> Path:
    """A real predictor fitted on whole models of both spaces at 160 px: 8 MobileNetV2
    variants (mnasnet) and 8 variants of the mobilenetv3 space's smallest network, with the
    layers of 4 more of each (16 whole models: the docs' ``lutnas evaluate`` holds out a quarter
    and needs two). Reused when ``directory`` already holds it."""
    path = directory / "both.predictor"
    if (path / "meta.json").is_file():
        return path
    from predictor_fixtures import build_lut, mbv3_variants, variants

    from predictor import LatencyPredictor

    directory.mkdir(parents=True, exist_ok=True)
    mnas = [dataclasses.replace(a, resolution=RESOLUTION) for a in variants(12)]
    mbv3 = mbv3_variants(12, RESOLUTION)
    lut = build_lut(
        directory / "both.lut", mnas[:8] + mbv3[:8], extra_layers_of=mnas[8:] + mbv3[8:]
    )
    LatencyPredictor.fit(lut).save(path)
    return path


def middle_target_ms(predictor_path: Path) -> float:
    """A target T inside the predictor's training latency range."""
    import json

    low, high = json.loads((predictor_path / "meta.json").read_text())["training"][
        "latency_range_ms"
    ]
    return round((low + high) / 2, 3)


def search_args(
    predictor: Path,
    out: Path,
    *extra: str,
    target: float | None = None,
    budget: int = 8,
    workers: int = 1,
    strategy: tuple[str, ...] = ("evolution", "population_size=4", "sample_size=2"),
    evaluator: tuple[str, ...] = ("zero-cost", "batch=16"),
) -> list[str]:
    """Arguments of a small ``lutnas search``: ``budget`` candidates in batches of 4 on
    ``workers`` processes, no progress bar, then ``extra``. ``strategy`` and ``evaluator`` are a
    name and its ``KEY=VALUE`` options; ``target`` defaults to :func:`middle_target_ms`."""

    def named(flag: str, spec: tuple[str, ...]) -> list[str]:
        return [flag, spec[0]] + [arg for opt in spec[1:] for arg in (f"{flag}-opt", opt)]

    return [
        "search",
        "--predictor",
        str(predictor),
        "--target-ms",
        str(target if target is not None else middle_target_ms(predictor)),
        "--budget",
        str(budget),
        "--batch-size",
        "4",
        "--workers",
        str(workers),
        *named("--strategy", strategy),
        *named("--evaluator", evaluator),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def fake_accuracy(arch: Arch) -> float:
    """A deterministic accuracy in [0.5, 0.95) from the arch key, for loop tests.

    ``LUTNAS_TEST_EVAL_SLEEP`` (seconds) slows each call (0.5x-1.5x, by arch);
    ``LUTNAS_TEST_EVAL_LOG`` (a file) gets one line per finished call, ``<pid> <arch key>``,
    appended atomically.
    """
    digest = hashlib.sha1(arch.key.encode()).digest()
    delay = float(os.environ.get("LUTNAS_TEST_EVAL_SLEEP", "0") or 0)
    if delay:  # 0.5x to 1.5x: workers finish out of order
        time.sleep(delay * (0.5 + digest[6] / 255))
    value = 0.5 + 0.45 * int.from_bytes(digest[:4], "little") / 2**32
    log = os.environ.get("LUTNAS_TEST_EVAL_LOG")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()} {arch.key}\n".encode())
        finally:
            os.close(fd)
    return value


def failing_for_some(arch: Arch) -> float:
    """Fails (ValueError) for about a third of the architectures, else like fake_accuracy."""
    if hashlib.sha1(arch.key.encode()).digest()[5] % 3 == 0:
        raise ValueError(f"cannot train {arch.short_id}")
    return fake_accuracy(arch)


def always_failing(arch: Arch) -> float:
    raise RuntimeError("the training pipeline is broken")


def build_search(
    out: Path,
    predictor_path: Path,
    *,
    strategy: str = "evolution",
    strategy_opts: dict | None = None,
    evaluator=None,
    batch_size: int = 4,
    seed: int = 0,
    executor=None,
    reward: str = "soft",
    target_ms=None,
    progress: bool = False,
):
    """A runner on a fresh or resumed record in ``out`` (the caller closes ``runner.record``
    and the executor). Small strategy defaults so a few batches already exercise them:
    evolution P=4, S=2; rl hidden 16, batch 4."""
    from lutnas.spaces.space import get_space
    from predictor import LatencyPredictor
    from search.evaluators import get_evaluator
    from search.parallel import InProcessExecutor
    from search.record import RECORD_NAME, SearchRecord
    from search.reward import make_reward
    from search.runner import SearchRunner
    from search.session import search_config
    from search.strategies import get_strategy

    defaults = {
        "evolution": {"population_size": 4, "sample_size": 2},
        "rl": {"hidden_size": 16, "batch_size": 4},
    }.get(strategy, {})
    space = get_space("mnasnet")
    predictor = LatencyPredictor.load(predictor_path)
    evaluator = evaluator or get_evaluator("callable", fn=fake_accuracy)
    strat = get_strategy(
        strategy, space.choice_counts(), seed, **{**defaults, **(strategy_opts or {})}
    )
    rew = make_reward(target_ms or middle_target_ms(predictor_path), reward)
    config = search_config(space, strat, evaluator, predictor, rew, batch_size)
    record = SearchRecord.open(out / RECORD_NAME, config)
    return SearchRunner(
        space,
        strat,
        predictor,
        rew,
        record,
        executor or InProcessExecutor(evaluator),
        batch_size,
        progress,
    )


def run_search(out: Path, predictor_path: Path, budget: int = 8, **options):
    """Build (see :func:`build_search`), run to ``budget``, close; returns (report, history)."""
    runner = build_search(out, predictor_path, **options)
    try:
        with runner.executor:
            report = runner.run(budget)
        return report, runner.record.history()
    finally:
        runner.record.close()
