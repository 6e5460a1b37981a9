"""A space file's layers and whole models profiled on the emulated phone (the real adb server,
adbutils, Debian's adb; the phone's ``benchmark_model`` times the LiteRT files we push)."""

from __future__ import annotations

import pytest
from space_fixtures import TINY, write_space

from lut.store import LutStore

pytestmark = pytest.mark.adb


def test_profile_device_fills_a_phone_lut_of_a_file_space(
    phone, benchmark_model_runner, tmp_path, monkeypatch, capsys
):
    from lutnas.cli.profile import main

    monkeypatch.setenv("LUTNAS_CACHE_DIR", str(tmp_path / "cache"))
    space, out = write_space(tmp_path, TINY), tmp_path / "phone.lut"
    args = [
        "--backend", "adb", "--runner", str(benchmark_model_runner), "--space", str(space),
        "--resolution", "32", "--whole-models", "2", "--runs", "5", "--warmup", "1",
        "--reference-every", "0", "--ci-tolerance", "100", "--no-progress", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "layers: 15 measured" in printed and "whole models: 2 measured" in printed
    with LutStore.open(out, writable=False) as store:
        assert store.backend_config["backend"] == "adb" and store.layer_count() == 15
        assert set(store.models_frame()["space"]) == {"tiny"}
        assert store.meta["spaces"]["tiny"]["name"] == "tiny"
    assert main(args) == 0  # resumes: nothing left to time
    assert "layers: 0 measured (0 re-measured for noise), 15 already in the file" in (
        capsys.readouterr().out
    )
    assert phone.files() == []  # the runner and every model were removed
