"""The README's and docs/' code runs: every ```python block, and every command of every ```bash
block, on tiny inputs, so a snippet that breaks fails CI.

The workspace holds what the docs' commands write before their readers need it, made small: a
real LUT of a few variants of each space at 160 px with twelve whole models (``host.lut``, also
as ``onnxruntime.lut`` and the other names the docs use), its fitted predictor
(``host.predictor``) and architecture files; every ```toml block whose first line is
``# NAME.toml`` as that file, and for docs/spaces.md's worked example (``my_space.toml``) a LUT
of its layers at 96 px with 8 whole models and its predictor (``my.lut``, ``my.predictor``).
Commands are run as written, with these rewrites to keep them small (a rewrite never adds an
option a command lacks, only shrinks what it has or adds profile-device's size limits):

- ``profile-device``: ``--limit 3 --runs 3 --warmup 1 --reference-every 0`` (a transfer's
  ``--sample K`` → 3 instead of ``--limit``), ``--whole-models N``
  → 1, uniformly sampled (latency sampling needs the whole space profiled) and without drift
  correction, ``--whole-models-include`` → its first network, and a fresh ``--out`` (the
  workspace's LUT has other settings);
- ``lutnas search``: ``--budget 4``, ``--verify 1``, ``--target-ms`` inside the range of the
  tiny predictor it names, population and sample sizes that fit the budget;
- ``lutnas evaluate``: ``--repeat 1``;
- ``lutnas lut remove`` and ``lutnas lut retime``: on a copy of the LUT they name (the
  commands after them read it whole).

What cannot run here is parsed instead, by the real argument parser of its command (so a
misspelt option still fails): commands for a phone (``--backend adb``), torchvision
measurements (minutes), installs, the test suite itself and benchmark scripts (checked with
``--help``: the script exists and takes every option shown).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_search_fixtures import middle_target_ms

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^ *```", re.S | re.M)  # also indented (in lists)
TOOLS = ("profile-device", "lutnas", "python", "python3")  # what the docs' commands start with

pytestmark = pytest.mark.slow


def blocks(lang: str) -> list[tuple[str, str]]:
    """``(where, code)`` of every fenced block in ``lang``."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            if m.group(2) == lang:
                line = text[: m.start()].count("\n") + 1
                out.append((f"{doc.relative_to(ROOT)}:{line}", textwrap.dedent(m.group(3))))
    return out


def commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuations joined, comments dropped, ``&&`` split."""
    out = []
    for line in re.sub(r"\\\n\s*", " ", code).splitlines():
        argv: list[str] = []
        for word in shlex.split(line, comments=True):
            if word == "&&":
                out.append(argv)
                argv = []
            else:
                argv.append(word)
        out.append(argv)
    return [argv for argv in out if argv]


def _set(argv: list[str], option: str, value: str) -> list[str]:
    if option in argv:
        argv = list(argv)
        argv[argv.index(option) + 1] = value
    return argv


def _drop(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value."""
    if option not in argv:
        return argv
    i = argv.index(option)
    return argv[:i] + argv[i + 2 :]


def _parse_only(argv: list[str]) -> str | None:
    """Why ``argv`` is only parsed, not run (None: run it)."""
    if argv[0].startswith("python"):
        return "a benchmark script"
    if "--runner" in argv or ("--backend" in argv and argv[argv.index("--backend") + 1] == "adb"):
        return "needs a phone"
    if "--measure-torchvision" in argv or "--measure-missing" in argv:
        return "measures torchvision networks (minutes)"
    if argv[:2] == ["lutnas", "search"] and "proxy-train" in argv:
        return "trains networks (minutes)"
    return None


def tiny(argv: list[str], workspace: Path, n: int) -> list[str]:
    """``argv`` rewritten to run in seconds (see the module docstring)."""
    if argv[0] == "profile-device" or argv[:2] == ["lutnas", "profile-device"]:
        argv = [*_drop(_drop(argv, "--out"), "--limit"), "--out", f"fresh{n}.lut"]
        if "--whole-models" in argv:
            argv = _set(argv, "--whole-models", "1") + ["--no-drift-correction"]
            argv = _set(argv, "--whole-models-sampling", "uniform")  # latency: needs the space
        if "--whole-models-include" in argv:
            first = argv[argv.index("--whole-models-include") + 1].split(",")[0]
            argv = _set(argv, "--whole-models-include", first)
        argv = _set(_set(argv, "--runs", "3"), "--warmup", "1")
        extra = ["--limit", "3", "--reference-every", "0", "--no-progress"]
        if "--sample" in argv:  # a transfer chooses its layers: shrink the sample instead
            argv, extra = _set(argv, "--sample", "3"), extra[2:]
        extra += [] if "--runs" in argv else ["--runs", "3", "--warmup", "1"]
        return argv + extra
    if argv[:2] == ["lutnas", "search"]:
        argv = _set(_set(argv, "--budget", "4"), "--verify", "1")
        predictor = workspace / argv[argv.index("--predictor") + 1]
        argv = _set(argv, "--target-ms", str(middle_target_ms(predictor)))
        argv = [
            {"population_size=20": "population_size=4", "sample_size=5": "sample_size=2"}.get(a, a)
            for a in argv
        ]
        return [*argv, "--no-progress", "--workers", "1"]
    if argv[:2] == ["lutnas", "evaluate"]:
        return _set(argv, "--repeat", "1")
    return argv


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, both_spaces_predictor_path) -> Path:
    """Files the docs' commands expect: a LUT with whole models of both spaces (an evaluation
    holds some out; the session's :func:`both_spaces_predictor` LUT), its predictor,
    architecture files."""
    from test_search_fixtures import RESOLUTION

    ws = tmp_path_factory.mktemp("docs")
    shutil.copy(both_spaces_predictor_path.parent / "both.lut", ws / "host.lut")
    shutil.copytree(both_spaces_predictor_path, ws / "host.predictor")
    for name in (
        "onnxruntime.lut",
        "pixel.lut",
        "a.lut",
        "b.lut",
        "target.lut",
        "quick.lut",
        "int8.lut",
    ):
        shutil.copy(ws / "host.lut", ws / name)
    (ws / "target.csv").write_text(  # docs/calibrating.md's measurements, at the tiny size
        f"model,resolution,latency_ms\nmnasnet-a1,{RESOLUTION},9.1\n"
        f"mobilenet_v2,{RESOLUTION},8.2\nmobilenetv2-1.0,{RESOLUTION},7.9\n"
    )
    arch = '{"archs": [' + _arch_json() + "]}"
    (ws / "my_archs.json").write_text(arch)
    (ws / "arch.json").write_text(_arch_json())
    for _, code in blocks("toml"):
        name = re.match(r"# (\S+\.toml)", code)
        if name:
            (ws / name.group(1)).write_text(code)
    _profile_and_fit(ws, "my_space.toml", "my.lut", "my.predictor")
    return ws


def _profile_and_fit(ws: Path, space: str, lut: str, predictor: str) -> None:
    """docs/spaces.md's worked example: its space's layers at 96 px, 8 whole models, a fit."""
    quick = ["--runs", "3", "--warmup", "1", "--reference-every", "0", "--no-progress"]
    for argv in (
        ["profile-device", "--space", space, "--resolution", "96", "--whole-models", "8"],
        ["lutnas", "fit", "--lut", lut, "--out", predictor],
    ):
        argv += [*quick, "--out", lut] if argv[0] == "profile-device" else []
        r = subprocess.run(argv, cwd=ws, capture_output=True, text=True, env=_env(), timeout=600)
        assert r.returncode == 0, f"{' '.join(argv)}\n{r.stderr[-2000:]}"


def _arch_json() -> str:
    from lutnas.spaces.named import get_named_arch

    return get_named_arch("mobilenetv2-1.0").to_json()


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


def _parse(argv: list[str]) -> None:
    """Check ``argv`` against its command's real argument parser, without running it."""
    if argv[0].startswith("python"):
        script = ROOT / argv[1]
        assert script.is_file(), f"{argv[1]} does not exist"
        r = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        for option in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
            assert option in r.stdout, f"{argv[1]} has no option {option}"
        return
    if argv[0] == "profile-device":
        import argparse

        from lutnas.cli.profile import add_arguments

        parser = argparse.ArgumentParser(prog="profile-device", exit_on_error=False)
        add_arguments(parser)
        parser.parse_args(argv[1:])
        return
    from lutnas.cli.main import build_parser

    build_parser().parse_args(argv[1:])


SHELL = [
    (where, argv)
    for where, code in blocks("bash")
    for argv in commands(code)
    if argv[0] in TOOLS
    and not (argv[0].startswith("python") and ("pytest" in argv or argv[1:3] == ["-m", "venv"]))
]


@pytest.mark.parametrize("where, argv", SHELL, ids=[f"{w} {' '.join(a)[:60]}" for w, a in SHELL])
def test_shell_command_runs(where, argv, workspace):
    reason = _parse_only(argv)
    if reason is not None:
        _parse(argv)
        return
    r = _run_shell(where, argv, workspace)
    assert r.returncode == 0, f"{where}: {' '.join(r.args)}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"


def _run_shell(where: str, argv: list[str], workspace: Path) -> subprocess.CompletedProcess:
    """The documented command ``argv``, made tiny, run in ``workspace``."""
    n = SHELL.index((where, argv))
    run = tiny(argv, workspace, n)
    if run[:3] in (["lutnas", "lut", "remove"], ["lutnas", "lut", "retime"]):
        shutil.copy(workspace / run[3], workspace / f"edited{n}.lut")  # others read the LUT
        run = [*run[:3], f"edited{n}.lut", *run[4:]]
    env = _env()
    return subprocess.run(run, cwd=workspace, capture_output=True, text=True, env=env, timeout=600)


PYTHON = blocks("python")


def _searched_before(code: str, workspace: Path) -> None:
    """Runs the documented searches whose ``--out`` directory ``code`` reads, where this
    workspace lacks it: a block may read what a command earlier in the docs wrote, and with one
    worker per core (pytest-xdist) that command may have run in another worker's workspace."""
    for where, argv in SHELL:
        if argv[:2] == ["lutnas", "search"] and "--out" in argv and _parse_only(argv) is None:
            out = argv[argv.index("--out") + 1]
            if f"{out}/" in code and not (workspace / out).is_dir():
                r = _run_shell(where, argv, workspace)
                assert r.returncode == 0, f"{where} (run first):\n{r.stderr[-2000:]}"


@pytest.mark.parametrize("where, code", PYTHON, ids=[w for w, _ in PYTHON])
def test_python_block_runs(where, code, workspace):
    _searched_before(code, workspace)
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=workspace,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert r.returncode == 0, f"{where}:\n{r.stderr[-3000:]}"


def test_every_doc_has_its_blocks_found():
    # the fence pattern itself: a doc known to hold both kinds yields both
    assert any(w.startswith("README.md") for w, _ in PYTHON)
    assert any(w.startswith("README.md") for w, _ in SHELL)
    assert commands("a --x 1 \\\n  --y 2  # note\nb && c") == [
        ["a", "--x", "1", "--y", "2"],
        ["b"],
        ["c"],
    ]


def test_ci_runs_the_readme_set_up_commands_as_written():
    # .ci/run reads the README's two commands with .ci/readme_commands.py and runs them in one
    # fresh shell; here: that they are the two a newcomer needs, in an order that works on a
    # Debian whose own Python refuses pip outside a virtual environment (PEP 668)
    import runpy

    reader = runpy.run_path(str(ROOT / ".ci" / "readme_commands.py"))
    install, test = reader["setup_commands"]((ROOT / "README.md").read_text())
    steps = [" ".join(argv) for argv in commands(install)]
    assert "python3-venv" in steps[0] or "python3-venv" in steps[1]  # apt-get install ...
    venv = steps.index("python3 -m venv .venv")
    assert steps[venv + 1] == ". .venv/bin/activate"
    assert steps.index("pip install -e .[dev]") > venv + 1
    assert [" ".join(argv) for argv in commands(test)] == [
        "ruff check .",
        "ruff format --check .",
        "python3 -m pytest -n auto",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_commands.py" in ci and "env -i" in ci
    with pytest.raises(ValueError, match="holds 3 commands, not 2"):
        reader["setup_commands"]("## Set up\n\n```bash\na\nb\n# c\nd\n```\n")
