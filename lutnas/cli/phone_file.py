"""The phone file of a search's best network and of ``lutnas export``: in which precision and
for which delegate, and the ``benchmark_model`` command that times it (see
:mod:`profiler.deploy`)."""

from __future__ import annotations

from pathlib import Path

from profiler.precision import DEFAULT_DELEGATE, precision_of


def phone_file_settings(config: dict) -> dict:
    """Precision and delegate of the phone file for a predictor of backend ``config``: its own
    (ONNX Runtime and torch LUTs are fp32 on no delegate: the file gets XNNPACK's)."""
    delegate = config.get("delegate") or DEFAULT_DELEGATE
    return {"precision": precision_of(config), "delegate": delegate}


def phone_file_line(path: Path, config: dict, threads: int | None = None) -> str:
    """``phone file: PATH (int8, xnnpack delegate); time it on a phone: adb push ...; ...``"""
    from profiler.deploy import benchmark_command

    settings = phone_file_settings(config)
    threads = threads or int(config.get("threads") or 1)
    command = benchmark_command(path, settings["precision"], settings["delegate"], threads)
    return (
        f"phone file: {path} ({settings['precision']}, {settings['delegate']} delegate); "
        f"time it on a phone: adb push {path} /data/local/tmp/ && {command}"
    )
