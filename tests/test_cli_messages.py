"""Small things a newcomer tripped over (issue 23, item 9): the layer count a profile announces
is the count it ends with; an unknown backend is an error even with --dry-run; --help shows no
reStructuredText backticks; a started adb server is said to keep running."""

from __future__ import annotations

import re

import pytest
from adbemu.fixtures import ADB, AdbServer, free_port

from lutnas.cli.main import main as lutnas_main
from lutnas.cli.profile import main as profile_main


def test_a_profile_announces_the_count_it_ends_with(tmp_path, capsys):
    # MnasNet-A1 at two resolutions: its classifier is one layer at both (counted once)
    args = ["--arch", "mnasnet-a1", "--resolution", "160", "--resolution", "224"]
    assert profile_main([*args, "--dry-run"]) == 0
    unique = int(re.search(r"total: (\d+) unique layers", capsys.readouterr().out).group(1))
    small = ["--runs", "3", "--warmup", "1", "--reference-every", "0", "--no-progress"]
    assert profile_main([*args, *small, "--out", str(tmp_path / "a1.lut")]) == 0
    out = capsys.readouterr().out
    announced = int(re.search(r"profiling (\d+) layers", out).group(1))
    done = re.search(r"layers: (\d+) measured \(\d+ re-measured[^)]*\), (\d+) already", out)
    assert announced == unique == int(done.group(1)) + int(done.group(2))


def test_an_unknown_backend_is_an_error_even_in_a_dry_run(capsys):
    assert profile_main(["--backend", "tflite", "--dry-run"]) == 2
    assert "unknown backend 'tflite'; choose one of" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command, argv",
    [
        (lutnas_main, ["--help"]),
        (lutnas_main, ["search", "--help"]),
        (lutnas_main, ["calibrate", "--help"]),
        (lutnas_main, ["lut", "--help"]),
        (profile_main, ["--help"]),
    ],
)
def test_help_shows_no_restructuredtext_backticks(command, argv, capsys):
    with pytest.raises(SystemExit):
        command(argv)
    assert "``" not in capsys.readouterr().out


@pytest.mark.adb
def test_an_adb_server_profile_device_started_is_said_to_keep_running(
    tmp_path, monkeypatch, capsys
):
    if ADB is None:
        pytest.skip("adb is not installed (Debian: apt-get install adb)")
    server = AdbServer(free_port(), tmp_path / "home")
    server.home.mkdir()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(server.port))
    monkeypatch.setenv("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
    monkeypatch.setenv("HOME", str(server.home))
    runner = tmp_path / "benchmark_model"
    runner.write_bytes(b"")
    try:
        args = ["--backend", "adb", "--runner", str(runner), "--limit", "1", "--no-progress"]
        assert profile_main([*args, "--out", str(tmp_path / "p.lut")]) == 2  # no phone
        err = capsys.readouterr().err
        assert "note: no adb server was running, so one was started" in err
        assert "adb kill-server" in err and "no phone attached" in err
        assert profile_main([*args, "--out", str(tmp_path / "p.lut")]) == 2  # it runs now
        assert "note: no adb server" not in capsys.readouterr().err
    finally:
        server.adb("kill-server")


def test_strict_advice_names_the_space_file_profile_device_needs(tmp_path):
    # profile-device knows a file space only by its file: --strict's advice for architectures
    # of one names the file given with --space, never the bare name (the file is only read:
    # a copy of mnasnet's, whose named architectures are taken, is not registered)
    from pathlib import Path

    from lutnas.cli.predict import profile_space_option
    from lutnas.spaces.named import get_named_arch

    get_named_arch("mnasnet-a1")  # as in a whole suite's run: mnasnet's names are taken
    text = (Path(__file__).parents[1] / "lutnas/spaces/builtin/mnasnet.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "mnasnet"', 'name = "mine"'))
    assert profile_space_option([], "mnasnet") == ""
    assert profile_space_option([], "mobilenetv3") == "--space mobilenetv3 "
    assert profile_space_option([str(path)], "mine") == f"--space {path} "
    assert profile_space_option([], "mine") == "--space PATH.toml "
