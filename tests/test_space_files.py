"""The built-in spaces as shipped files: the same layer keys, token orders, counts and named
architectures as the Python definitions they replaced (the stored fingerprint was written from
those definitions before the conversion; see ``tests/space_fingerprint.py``)."""

from __future__ import annotations

import json

import pytest
from space_fingerprint import BUILTIN_SPACES, STORED, fingerprint, named_fingerprint


@pytest.fixture(scope="module")
def stored() -> dict:
    return json.loads(STORED.read_text())


@pytest.mark.parametrize("name", BUILTIN_SPACES)
def test_a_builtin_space_is_byte_identical_to_its_python_definition(name, stored):
    now = fingerprint(name)
    before = stored["spaces"][name]
    for key in before:  # one assertion per part, so a failure names what changed
        assert now[key] == before[key], f"{name}: {key} changed"
    assert now == before


def test_the_named_architectures_are_unchanged(stored):
    now = named_fingerprint()
    for name in stored["named"]:
        assert now[name] == stored["named"][name], f"named architecture {name} changed"


# --- the definition round trip ------------------------------------------------------------------
@pytest.mark.parametrize("name", [*BUILTIN_SPACES, "proxylessnas"])
def test_a_stored_definition_reads_back_into_the_same_space(name):
    from lutnas.spaces import get_space
    from lutnas.spaces.definition import space_from_definition

    space = get_space(name)
    again = space_from_definition(json.loads(json.dumps(space.definition())))
    assert again == space and again.archs == space.archs
    assert again.definition() == space.definition()
    assert [s.key for s in again.unique_layers(224)] == [s.key for s in space.unique_layers(224)]


def test_the_builtin_files_ship_inside_the_package():
    from lutnas.spaces import get_space
    from lutnas.spaces.registry import source_of
    from lutnas.spaces.spacefile import builtin_path

    for name in (*BUILTIN_SPACES, "proxylessnas"):
        path = builtin_path(name)
        assert path.is_file() and path.parent.parent.name == "spaces"
        get_space(name)
        assert source_of(name) == "the built-in space file"


# --- ProxylessNAS's mobile space (written only as a file) ---------------------------------------
def test_proxylessnas_space_is_the_papers():
    from lutnas.spaces import get_space

    space = get_space("proxylessnas")
    assert space.kind == "layerwise" and space.resolutions == (224,)
    assert (space.stem_channels, space.stem_stride, space.stem_act) == (32, 2, "relu6")
    assert (space.first.channels, space.first.kernel, space.first.act) == (16, 3, "relu6")
    assert [(s.channels, s.stride, max(s.depths)) for s in space.stages] == [
        (24, 2, 4),
        (40, 2, 4),
        (80, 2, 4),
        (96, 1, 4),
        (192, 2, 4),
        (320, 1, 1),
    ]
    for st in space.stages:
        assert st.kernels == (3, 5, 7) and st.expansions == (3, 6) and st.act == "relu6"
        assert not st.se and st.zero == (st.channels != 320)  # no zero on a one-layer stage
    assert (space.head_channels, space.head_act, space.hidden_channels) == (1280, "relu6", 0)
    stem, first = space.stem_specs(224)
    assert (first.op, first.cin, first.cout, first.skip) == ("dconv", 32, 16, "noskip")
    # 5 stages of 4 positions x 6 layers (first + repeated), the last stage's 6 first layers,
    # stem, first block, head conv and classifier
    assert len(space.unique_layers(224)) == 5 * 2 * 6 + 6 + 4 == 70


def test_proxylessnas_zero_layers_are_tokens_and_shorten_a_stage():
    from lutnas.spaces import get_space
    from lutnas.spaces.arch import Arch
    from lutnas.spaces.sampling import sample_archs

    space = get_space("proxylessnas")
    names = [d.name for d in space.decisions()]
    assert names[1:13] == [
        "s0.depth",
        "s0.l0.kernel",
        "s0.l0.expansion",
        *[f"s0.l{j}.{x}" for j in (1, 2, 3) for x in ("zero", "kernel", "expansion")],
    ]
    assert len(names) == 1 + 5 * 12 + 3 and "s0.l0.zero" not in names
    position = {n: i for i, n in enumerate(names)}
    tokens = [0] * len(names)
    tokens[position["s0.l2.zero"]] = 1  # skip stage 0's third layer
    arch = Arch.from_tokens("proxylessnas", tokens)
    assert arch.blocks[0].depth == 3 and arch.blocks[1].depth == 4
    # the network is the same wherever the zero sits; its canonical tokens put zeros last
    canonical = arch.to_tokens()
    assert canonical[position["s0.l3.zero"]] == 1 and canonical[position["s0.l2.zero"]] == 0
    assert Arch.from_tokens("proxylessnas", canonical) == arch
    depths = set()
    for a in sample_archs(space, 60, seed=3):
        assert Arch.from_tokens("proxylessnas", a.to_tokens()) == a and a.problems() == []
        depths.update(b.depth for b in a.blocks[:5])
        assert {s.key for s in a.layers()} <= {s.key for s in space.unique_layers(224)}
    assert depths == {1, 2, 3, 4}


def test_proxylessnas_mobile_is_the_published_network():
    """ProxylessNAS-Mobile as published: 4.08 M parameters and 320.4 M MACs
    (mit-han-lab/proxylessnas, logs/imagenet_mobile_log.txt: "Total training params: 4.08M",
    "Total FLOPs: 320.4M", FLOPs there counting multiply-adds)."""
    from lutnas.spaces.named import get_named_arch
    from predictor.features import layer_cost

    arch = get_named_arch("proxylessnas-mobile")
    params = sum(p.numel() for p in arch.build().parameters())
    assert round(params / 1e6, 2) == 4.08
    macs_m = sum(layer_cost(s)[0] for s in arch.layers())
    assert abs(macs_m - 320.4) / 320.4 < 0.005
    assert [b.depth for b in arch.blocks] == [2, 4, 4, 4, 4, 1]
    assert arch.problems() == ["stage 0 channels 32 not in (24,)"]  # published wider than searched


# --- a regular install finds the files too ------------------------------------------------------
@pytest.mark.slow
def test_a_built_wheel_ships_the_space_files_and_only_our_top_level_names(tmp_path):
    """Build the wheel as pip does (from a copy of the sources: the build writes beside them),
    install it into a plain directory and load every built-in space from there."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for item in ("pyproject.toml", "README.md"):
        shutil.copy(root / item, src / item)
    for item in ("lut", "lutnas", "profiler", "predictor", "search"):
        shutil.copytree(root / item, src / item, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-q", str(src), "-w", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("lutnas-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n for n in names if n.endswith(".toml"))
    assert shipped == sorted(
        f"lutnas/spaces/builtin/{n}.toml" for n in (*BUILTIN_SPACES, "proxylessnas")
    )
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"lut", "lutnas", "predictor", "profiler", "search"}  # no spaces, no cli
    target = tmp_path / "installed"
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    probe = (
        "import lutnas.spaces.spacefile as f, lutnas.spaces as s\n"
        "print(f.__file__)\n"
        "print(sorted((n, len(s.get_space(n).unique_layers(224))) for n in s.list_spaces()))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)}  # before the editable install
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    where, counts = ran.stdout.splitlines()
    assert where.startswith(str(target))
    assert "('mnasnet', 2661)" in counts and "('proxylessnas', 70)" in counts
