"""Validation that teaches: a malformed or inconsistent space file is one ``error:`` line naming
the file, the field (``stages[1].act``) and what is allowed; a space file is data, never
executed."""

from __future__ import annotations

import pytest
from space_fixtures import TINY, TINY_FACTORIZED, write_space

from lutnas.cli.main import main


def _error_line(path, capsys, *command: str) -> str:
    """The one line ``command`` (default ``lutnas space show PATH``) prints to stderr."""
    rc = main(list(command) or ["space", "show", str(path)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {path}"), lines[0]
    assert captured.out == ""
    return lines[0]


# (file text, field named, what the message says is allowed or wrong)
BAD = {
    "unknown op": (
        TINY_FACTORIZED.replace('"dconv", "mbconv3"', '"dconv", "sepconv"'),
        "choices.conv_ops[1]",
        "unknown op 'sepconv'; the ops are conv, dconv or mbconvN (N = 1 to 16, e.g. mbconv6)",
    ),
    "an id-skip where shapes always differ": (
        TINY_FACTORIZED.replace(
            "{ channels = 16, layers = 1, stride = 2 }",
            "{ channels = 16, layers = 1, stride = 2, layer_deltas = [0] }",
        ),
        "stages[0].skips",
        "idskip never applies here: the stage has one layer, whose input and output shapes "
        "always differ (stride 2)",
    ),
    "an empty choice": (
        TINY.replace("kernels = [3, 5]", "kernels = []"),
        "choices.kernels",
        "is empty: a choice set needs at least one choice",
    ),
    "a width not divisible": (
        TINY.replace("channels = 16,", "channels = 20,"),
        "stages[0].channels",
        "20 is not a multiple of the channel divisor 8 (channel_divisor): use 16 or 24",
    ),
    "an unknown activation": (
        TINY.replace('act = "hswish"', 'act = "gelu"'),
        "stages[1].act",
        "unknown activation 'gelu'; lutnas knows relu, relu6, hswish, silu",
    ),
    "a misspelt key": (
        TINY.replace("{ channels = 16, stride = 2,", "{ channels = 16, strides = 2,"),
        "stages[0].strides",
        "unknown key; a stage has channels, stride, act, se, depths, kernels, expansions, zero",
    ),
    "a missing field": (
        TINY.replace(
            'stem = { channels = 8, kernel = 3, stride = 2, act = "relu6" }',
            "stem = { channels = 8 }",
        ),
        "stem.act",
        "missing (it is required)",
    ),
    "an even kernel": (
        TINY.replace("kernels = [3, 5]", "kernels = [3, 4]"),
        "choices.kernels[1]",
        "must be odd (a kernel has a centre), got 4; use 3 or 5",
    ),
    "a repeated choice": (
        TINY.replace("expansions = [2, 4]", "expansions = [2, 4, 2]"),
        "choices.expansions",
        "repeats 2: each choice once",
    ),
    "zero on a one-layer stage": (
        TINY.replace("depths = [1], zero = false", "depths = [1], zero = true"),
        "stages[1].zero",
        "zero never applies here",
    ),
    "a choice set given nowhere": (
        TINY.replace("expansions = [2, 4]\n", ""),
        "stages[0].expansions",
        "no expansions: give expansions = [...] in this stage or in the [choices] table",
    ),
    "a resolution off the multiples of 8": (
        TINY.replace("resolutions = [32, 48]", "resolutions = [32, 50]"),
        "resolutions[1]",
        "50 is not a multiple of 8: use 48 or 56",
    ),
    "an unknown kind": (
        TINY.replace('kind = "layerwise"', 'kind = "cell"'),
        "kind",
        "must be one of factorized, layerwise, got 'cell'",
    ),
    "a newer format": (
        "format_version = 2\n" + TINY,
        "format_version",
        "2 is newer than this lutnas reads (1); upgrade lutnas",
    ),
    "a name that is not a name": (
        TINY.replace('name = "tiny"', 'name = "my space"'),
        "name",
        "must be a name of 1 to 64 letters, digits",
    ),
    "a named architecture with a block too few": (
        TINY.replace('blocks = ["c16_k3e2-k5e4", "c24_k3e4"]', 'blocks = ["c16_k3e2-k5e4"]'),
        "archs.tiny-a.blocks",
        "has 1 block labels; the space has 2 stages",
    ),
    "a named architecture with a bad label": (
        TINY.replace('"c24_k3e4"]', '"c24_k4e4"]'),
        "archs.tiny-a.blocks[1]",
        "kernel 4 must be odd and positive",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_space_file_is_one_error_line_naming_file_field_and_what_is_allowed(
    case, tmp_path, capsys
):
    text, field, allowed = BAD[case]
    path = write_space(tmp_path, text)
    line = _error_line(path, capsys)
    assert line.startswith(f"error: {path}: {field}: "), line
    assert allowed in line


def test_the_same_line_from_every_command_that_takes_a_space(tmp_path, capsys):
    path = write_space(tmp_path, TINY.replace('act = "hswish"', 'act = "gelu"'))
    expected = _error_line(path, capsys)
    dry_run = ["profile-device", "--space", str(path), "--dry-run"]
    assert _error_line(path, capsys, *dry_run) == expected
    search = ["search", "--space", str(path), "--predictor", "none", "--target-ms", "1"]
    assert _error_line(path, capsys, *search) == expected
    fit = ["fit", "--space", str(path), "--lut", "none.lut", "--out", str(tmp_path / "p")]
    assert _error_line(path, capsys, *fit) == expected


def test_not_toml_and_no_file_are_clear_errors(tmp_path, capsys):
    path = write_space(tmp_path, 'name = "tiny"\nkind = \n')
    line = _error_line(path, capsys)
    assert "is not valid TOML: " in line and "(at line 2, column" in line
    missing = tmp_path / "nope.toml"
    line = _error_line(missing, capsys)
    assert "no such file; --space takes a space file (PATH.toml) or a space name" in line
    assert "unknown search space 'nope'; choose one of mnasnet, mobilenetv3" in _unknown(capsys)


def _unknown(capsys) -> str:
    assert main(["space", "show", "nope"]) == 2
    return capsys.readouterr().err


def test_a_space_file_is_data_never_executed(tmp_path, capsys):
    """Python in a space file is text: a file of code is not TOML, and code in a value is a
    value that names nothing lutnas knows; nothing runs either way."""
    marker = tmp_path / "ran"
    code = f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
    path = write_space(tmp_path, code, "code.toml")
    assert "is not valid TOML" in _error_line(path, capsys)
    in_values = TINY.replace(
        'act = "hswish"', f"act = \"__import__('pathlib').Path({str(marker)!r}).touch()\""
    )
    path = write_space(tmp_path, in_values, "values.toml")
    assert "stages[1].act: unknown activation" in _error_line(path, capsys)
    assert not marker.exists()


def test_a_good_file_shows_its_decisions_size_and_layers(tmp_path, capsys):
    path = write_space(tmp_path, TINY)
    assert main(["space", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"space tiny (layerwise), from {path}\n")
    assert "decisions (tokens, in order): 13" in out and "  s0.l1.zero: False, True" in out
    assert "size: 2,048 token combinations, 672 distinct networks" in out
    assert "  32: 15\n  48: 15\n  all: 29" in out
    assert "tiny-a (32, 6 layers, on the grid)" in out
    assert main(["space", "show", "mnasnet", "--resolution", "224"]) == 0
    out = capsys.readouterr().out
    assert "decisions (tokens, in order): 43" in out and "  224: 2661" in out
