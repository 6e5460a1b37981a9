"""Bad input and a hostile environment end in one ``error:`` line and exit code 2, never a
traceback: numeric options out of range, a full disk, read-only storage."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from lutnas.cli.profile import main as profile_main
from lutnas.cli_util import user_errors


@pytest.mark.parametrize(
    "option, value, accepted",
    [
        ("--threads", "0", "from 1 to 256"),
        ("--limit", "0", "from 1 to 10000000"),
        ("--limit", "-5", "from 1 to 10000000"),
        ("--whole-models", "-3", "from 0 to 10000"),
        ("--whole-models", "99999999999999999999", "from 0 to 10000"),  # no endless dry run
        ("--reference-every", "-1", "from 0 to 10000000"),
        ("--cv-threshold", "-1", "above 0"),
        ("--cv-threshold", "nan", "above 0"),
        ("--ci-tolerance", "0", "above 0"),
        ("--export-workers", "-1", "from 0 to 256"),
        ("--runs", "0", "from 1 to 100000"),
        ("--resolution", "224.7", "not a whole number"),
        ("--resolution", "100000", "from 32 to 2048"),
    ],
)
def test_numeric_options_are_checked_with_the_accepted_range(option, value, accepted, capsys):
    with pytest.raises(SystemExit) as stop:
        profile_main([option, value, "--dry-run"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("profile-device: error: argument " + option) and accepted in err


@pytest.mark.parametrize("command", ["fit", "evaluate", "search", "profile-device"])
def test_every_command_refuses_a_negative_seed(command, capsys):
    from lutnas.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main([command, "--seed", "-1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --seed" in err and "from 0 to 4294967295" in err


@pytest.mark.parametrize(
    "exc, expected",
    [
        (sqlite3.OperationalError("database or disk is full"), "free space on that disk"),
        (sqlite3.OperationalError("unable to open database file"), "another location"),
        (OSError(errno.ENOSPC, "No space left on device", "/d/x.ubj"), "(/d/x.ubj)"),
        (OSError(errno.EROFS, "Read-only file system", "/ro/out.lut"), "(/ro/out.lut)"),
    ],
)
def test_storage_failures_become_one_error_line(exc, expected, capsys):
    @user_errors
    def command() -> int:
        raise exc

    assert command() == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write") and expected in lines[0]


def test_other_os_errors_are_not_dressed_up_as_storage_problems():
    @user_errors
    def command() -> int:
        raise FileNotFoundError(errno.ENOENT, "No such file", "/nowhere")

    with pytest.raises(FileNotFoundError):
        command()


def test_an_unwritable_out_is_refused_before_any_measuring(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = profile_main(["--limit", "1", "--out", str(blocker / "x.lut"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot write") and "x.lut" in err


@pytest.mark.parametrize(
    "argv, option",
    [
        (["search", "--predictor", "p", "--target-ms", "-3"], "--target-ms"),
        (["search", "--predictor", "p", "--target-ms", "5", "--alpha", "inf"], "--alpha"),
        (["search", "--predictor", "p", "--target-ms", "5", "--resolution", "7"], "--resolution"),
        (["evaluate", "--lut", "x.lut", "--test-fraction", "1.5"], "--test-fraction"),
        (["evaluate", "--lut", "x.lut", "--repeat", "-1"], "--repeat"),
        (["lut", "show", "x.lut", "--noisiest", "-2"], "--noisiest"),
        (
            ["predict", "--predictor", "p", "--torchvision", "m", "--resolution", "0"],
            "--resolution",
        ),
    ],
)
def test_the_other_commands_check_their_numbers_too(argv, option, capsys):
    from lutnas.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert f"error: argument {option}: " in capsys.readouterr().err
