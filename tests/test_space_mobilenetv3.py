"""The layer-wise MobileNetV3 spaces (Once-for-All's ``mobilenetv3`` and ``mobilenetv3-small``):
choices, unique-layer enumeration, Arch JSON / token / label forms, the named MobileNetV3s
against torchvision, trainable modules, record errors and ``profile-device --dry-run``."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision

from lut.spec import LayerSpec
from lutnas.cli.main import main as lutnas_main
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch, BlockChoice, LayerChoice, StageChoice
from lutnas.spaces.named import get_named_arch, list_named_archs
from lutnas.spaces.sampling import sample_archs
from lutnas.spaces.space import get_space
from predictor.decompose import decompose_module
from predictor.features import layer_cost

ELASTIC = ("mobilenetv3", "mobilenetv3-small")


def independent_count(space) -> int:
    """Closed form from the space's fields: the stem and the first block (2); per stage one
    first layer (the stage's stride, new width) and one repeated layer (stride 1, width in =
    out) per kernel × expansion, which coincide only where a stage keeps its input width at
    stride 1; the head's 1×1 conv, its linear layer and the classifier (3)."""
    total, cin = 2, space.stem_out_channels
    for stage in space.stages:
        assert max(stage.depths) > 1  # every stage has repeated layers
        combos = len(stage.kernels) * len(stage.expansions)
        same = cin == stage.channels and stage.stride == 1
        total += combos if same else 2 * combos
        cin = stage.channels
    return total + 3


def uniform(space, resolution: int, depth: int, kernel: int, expansion: int) -> Arch:
    """Every stage at its own width with ``depth`` layers k``kernel``e``expansion``."""
    layers = (LayerChoice(kernel, expansion),) * depth
    blocks = tuple(StageChoice(s.channels, layers) for s in space.stages)
    return Arch(space.name, resolution, blocks)


def macs_and_params(arch: Arch) -> tuple[float, float]:
    costs = [layer_cost(s) for s in arch.layers()]
    return sum(c[0] for c in costs), sum(c[1] for c in costs)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture
def one_thread():
    """Small tensors: one thread is fastest, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- the space's definition --------------------------------------------------------------------
def test_mobilenetv3_is_ofa_on_mobilenetv3_large():
    space = get_space("mobilenetv3")
    assert [(s.channels, s.stride, s.se, s.act) for s in space.stages] == [
        (24, 2, False, "relu"),
        (40, 2, True, "relu"),
        (80, 2, False, "hswish"),
        (112, 1, True, "hswish"),
        (160, 2, True, "hswish"),
    ]
    for stage in space.stages:
        assert stage.depths == (2, 3, 4) and stage.kernels == (3, 5, 7)
        assert stage.expansions == (3, 4, 6) and not stage.zero
    assert space.resolutions == (128, 144, 160, 176, 192, 208, 224)
    assert space.stage_inputs(224) == [112, 56, 28, 14, 14] and space.final_hw(224) == 7
    assert space.stage_inputs(128) == [64, 32, 16, 8, 8] and space.final_hw(128) == 4
    small = get_space("mobilenetv3-small")
    assert [(s.channels, s.stride) for s in small.stages] == [(24, 2), (40, 2), (48, 1), (96, 2)]
    assert small.stage_inputs(224) == [56, 28, 14, 14] and small.final_hw(224) == 7


def test_layers_follow_the_stage_table():
    """Stem 16 hswish s2, first block dconv k3 relu with identity skip, then per stage a first
    layer with the stage's stride and no skip, repeats with identity skips; SE and activation
    as the stage says; head 960 → 1280 → classes."""
    space = get_space("mobilenetv3")
    arch = uniform(space, 224, 3, 5, 4)
    specs = arch.layers()
    assert len(specs) == 2 + 3 * len(space.stages) + 3
    stem, first = specs[:2]
    assert (stem.op, stem.kernel, stem.act, stem.cout, stem.stride) == ("stem", 3, "hswish", 16, 2)
    assert (first.op, first.kernel, first.act, first.cin, first.cout) == (
        "dconv",
        3,
        "relu",
        16,
        16,
    )
    assert first.skip == "idskip" and first.stride == 1 and not first.se_ratio
    assert first.input_h == 112
    cin = 16
    for i, stage in enumerate(space.stages):
        layers = specs[2 + 3 * i : 2 + 3 * (i + 1)]
        assert [s.stride for s in layers] == [stage.stride, 1, 1]
        assert [s.skip for s in layers] == ["noskip", "idskip", "idskip"]
        assert [s.cin for s in layers] == [cin, stage.channels, stage.channels]
        assert [s.mid_channels for s in layers] == [4 * cin] + [4 * stage.channels] * 2
        assert {(s.op, s.kernel, s.cout, s.act) for s in layers} == {
            ("mbconv", 5, stage.channels, stage.act)
        }
        assert all(bool(s.se_ratio) == stage.se for s in layers)
        if stage.se:  # MobileNetV3's SE: squeeze to make_divisible(mid / 4), hard-sigmoid gate
            assert {(s.se_act, s.se_gate_kind) for s in layers} == {("relu", "hsigmoid")}
            assert layers[1].se_squeeze_channels == {40: 40, 112: 112, 160: 160}[stage.channels]
        assert layers[0].input_h == space.stage_inputs(224)[i]
        cin = stage.channels
    head, hidden, classifier = specs[-3:]
    assert (head.op, head.cin, head.cout, head.act, head.input_h) == ("head", 160, 960, "hswish", 7)
    assert (hidden.op, hidden.cin, hidden.cout, hidden.act) == ("fcact", 960, 1280, "hswish")
    assert (classifier.op, classifier.cin, classifier.cout) == ("fc", 1280, 1000)
    assert arch.layers(num_classes=10)[-1].cout == 10


# --- counts ------------------------------------------------------------------------------------
def test_decisions_and_choice_counts():
    space = get_space("mobilenetv3")
    decisions = space.decisions()
    per_stage = 1 + 2 * max(space.stages[0].depths)
    assert len(decisions) == 1 + len(space.stages) * per_stage == 1 + 5 * (1 + 2 * 4) == 46
    assert space.choice_counts() == [7] + [3] * 45
    assert decisions[0].name == "resolution" and decisions[0].choices == space.resolutions
    assert [d.name for d in decisions[1:10]] == [
        "s0.depth",
        *itertools.chain.from_iterable((f"s0.l{j}.kernel", f"s0.l{j}.expansion") for j in range(4)),
    ]
    assert decisions[-1].name == "s4.l3.expansion"
    small = get_space("mobilenetv3-small")
    assert len(small.decisions()) == 1 + 4 * 9 == 37


@pytest.mark.parametrize("name", ELASTIC)
def test_unique_layer_count_matches_independent_count(name):
    space = get_space(name)
    expected = independent_count(space)
    assert expected == {"mobilenetv3": 95, "mobilenetv3-small": 77}[name]
    for r in (*space.resolutions, 96, 256):
        layers = space.unique_layers(r)
        assert len(layers) == expected, r
        assert len({s.key for s in layers}) == expected  # distinct by key
        for spec in layers:
            assert LayerSpec.from_key(spec.key) == spec


@pytest.mark.parametrize("name", ELASTIC)
def test_unique_layers_are_exactly_the_layers_of_the_space(name):
    """Uniform archs of every kernel × expansion (depth 2: a first and a repeated layer per
    stage) use every enumerated layer; sampled archs use only enumerated layers."""
    space = get_space(name)
    for r in (space.resolutions[0], space.resolutions[-1]):
        enumerated = {s.key for s in space.unique_layers(r)}
        used = {
            s.key
            for k, e in itertools.product(space.stages[0].kernels, space.stages[0].expansions)
            for s in uniform(space, r, 2, k, e).layers()
        }
        assert used == enumerated
    enumerated = {r: {s.key for s in space.unique_layers(r)} for r in (*space.resolutions, 96)}
    archs = sample_archs(space, 150, seed=11) + sample_archs(space, 50, seed=12, resolutions=(96,))
    assert len(archs) == 200
    assert {a.resolution for a in archs} == set(enumerated)
    for arch in archs:
        assert {s.key for s in arch.layers()} <= enumerated[arch.resolution], arch.key


# --- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ELASTIC)
def test_json_token_label_and_key_round_trips(name):
    space = get_space(name)
    archs = sample_archs(space, 100, seed=3)
    named = get_named_arch(
        "mobilenetv3-small" if name == "mobilenetv3-small" else "mobilenetv3-large"
    )
    assert named.space == name and named.problems()  # off the grid: round trips without tokens
    archs.append(named)
    for arch in archs:
        assert Arch.from_json(arch.to_json()) == arch
        assert Arch.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
        prefix, labels = arch.key.split(":")
        assert prefix == f"{name}@{arch.resolution}"
        blocks = tuple(space.block_from_label(label) for label in labels.split("|"))
        assert blocks == arch.blocks
        for block in arch.blocks:
            assert StageChoice.from_label(block.label()) == block
        if not arch.problems():
            tokens = arch.to_tokens()
            assert len(tokens) == len(space.decisions())
            assert Arch.from_tokens(name, tokens) == arch


@pytest.mark.parametrize("name", ELASTIC)
def test_tokens_decode_as_the_decisions_say_and_unused_slots_are_ignored(name):
    space = get_space(name)
    decisions = space.decisions()
    position = {d.name: i for i, d in enumerate(decisions)}
    rng = random.Random(7)
    for _ in range(40):
        tokens = [rng.randrange(n) for n in space.choice_counts()]
        arch = Arch.from_tokens(name, tokens)
        assert arch.resolution == space.resolutions[tokens[0]]
        canonical = list(tokens)
        for i, block in enumerate(arch.blocks):
            assert block.channels == space.stages[i].channels
            st = space.stages[i]
            assert block.depth == st.depths[tokens[position[f"s{i}.depth"]]]
            for j in range(max(st.depths)):
                k, e = position[f"s{i}.l{j}.kernel"], position[f"s{i}.l{j}.expansion"]
                if j < block.depth:
                    layer = block.layers[j]
                    assert layer.kernel == st.kernels[tokens[k]]
                    assert layer.expansion == st.expansions[tokens[e]] and layer.mid == 0
                else:  # unused: any value decodes to the same arch; canonical tokens are 0
                    canonical[k] = canonical[e] = 0
                    changed = list(tokens)
                    changed[k] = (tokens[k] + 1) % len(st.kernels)
                    changed[e] = (tokens[e] + 2) % len(st.expansions)
                    assert Arch.from_tokens(name, changed) == arch
        assert arch.problems() == []
        assert arch.to_tokens() == canonical
        assert Arch.from_tokens(name, canonical) == arch


def test_bad_tokens_and_labels_give_clear_errors():
    with pytest.raises(LutnasError, match="'mobilenetv3' takes 46 tokens, got 45"):
        Arch.from_tokens("mobilenetv3", [0] * 45)
    with pytest.raises(LutnasError, match="'mobilenetv3-small' takes 37 tokens, got 46"):
        Arch.from_tokens("mobilenetv3-small", [0] * 46)
    with pytest.raises(LutnasError, match="token 3 out of range for s4.l3.expansion"):
        Arch.from_tokens("mobilenetv3", [0] * 45 + [3])
    with pytest.raises(LutnasError, match="token 7 out of range for resolution"):
        Arch.from_tokens("mobilenetv3", [7] + [0] * 45)
    with pytest.raises(LutnasError, match="token -1 out of range for s0.depth"):
        Arch.from_tokens("mobilenetv3", [0, -1] + [0] * 44)
    for loose in (1.7, True, "1"):  # int(1.7) would be 1: such a token is refused, not rounded
        with pytest.raises(LutnasError, match=f"token {loose!r} out of range for s0.depth"):
            Arch.from_tokens("mobilenetv3", [0, loose] + [0] * 44)
    numpy_ints = [np.int64(0)] * 46  # what strategies hand over
    assert Arch.from_tokens("mobilenetv3", numpy_ints).to_tokens() == [0] * 46
    for bad in ["", "c40_", "c40_k3", "c40_k3e3-", "c40_k3e3m200", "40_k3e3", "c40_e3k3"]:
        with pytest.raises(LutnasError, match="is not a stage label"):
            StageChoice.from_label(bad)
    with pytest.raises(LutnasError, match="'c40_k4e3': kernel 4 must be odd"):
        StageChoice.from_label("c40_k4e3")
    with pytest.raises(LutnasError, match="'c40_k3e0': .*exactly one; neither given"):
        StageChoice.from_label("c40_k3e0")
    with pytest.raises(LutnasError, match="exactly one; both given"):
        LayerChoice(3, expansion=3, mid=100)
    with pytest.raises(LutnasError, match="cannot be negative"):
        LayerChoice(3, expansion=-1, mid=5)
    assert StageChoice.from_label("c80_k3e6-k3m200") == StageChoice(
        80, (LayerChoice(3, 6), LayerChoice(3, mid=200))
    )


# --- named architectures -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def torchvision_models():
    torch.manual_seed(0)
    return {
        "mobilenetv3-large": torchvision.models.mobilenet_v3_large(),
        "mobilenetv3-small": torchvision.models.mobilenet_v3_small(),
    }


@pytest.mark.parametrize(
    ("name", "space", "params", "off_grid"),
    [
        ("mobilenetv3-large", "mobilenetv3", 5_483_032, "200"),
        ("mobilenetv3-small", "mobilenetv3-small", 2_542_856, "72"),
    ],
)
def test_named_mobilenetv3_is_torchvisions(
    name, space, params, off_grid, torchvision_models, one_thread
):
    model = torchvision_models[name]
    arch = get_named_arch(name)
    assert arch.space == space and arch.resolution == 224
    assert [s.key for s in arch.layers()] == [s.key for s in decompose_module(model).specs]
    assert n_params(model) == params
    built = arch.build()
    assert n_params(built) == n_params(model)
    assert [s.key for s in decompose_module(built).specs] == [s.key for s in arch.layers()]
    # Off the grid: expressible and profilable, but it has no tokens.
    problems = arch.problems()
    assert problems and all("off the grid" in p for p in problems)
    assert any(f"expanded width {off_grid} " in p for p in problems)
    with pytest.raises(LutnasError, match=f"expanded width {off_grid} is off the grid"):
        arch.to_tokens()


def test_ofa_max_and_min_are_the_extremes_of_the_space():
    space = get_space("mobilenetv3")
    assert {"ofa-mbv3-max", "ofa-mbv3-min", "mobilenetv3-large"} <= set(list_named_archs())
    big, small = get_named_arch("ofa-mbv3-max"), get_named_arch("ofa-mbv3-min")
    assert big.problems() == [] and small.problems() == []
    assert big.to_tokens() == [n - 1 for n in space.choice_counts()]  # every last choice
    assert small.to_tokens() == [0] * len(space.decisions())  # every first choice
    assert big == uniform(space, 224, 4, 7, 6) and small == uniform(space, 128, 2, 3, 3)
    big_macs, big_params = macs_and_params(big)
    small_macs, small_params = macs_and_params(small)
    archs = sample_archs(space, 200, seed=4)
    for arch in archs:
        macs, params = macs_and_params(arch)
        assert small_macs <= macs <= big_macs, arch.key
        assert small_params <= params <= big_params, arch.key
    assert small_macs < min(macs_and_params(a)[0] for a in archs if a != small)
    assert big_params > max(macs_and_params(a)[1] for a in archs if a != big)
    built = [n_params(a.build()) for a in (small, archs[0], big)]
    assert built == sorted(built) and built[0] < built[2]


# --- trainable modules -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "seed", "resolution"),
    [("mobilenetv3", 1, 32), ("mobilenetv3", 2, 64), ("mobilenetv3-small", 3, 64)],
)
def test_built_modules_train(name, seed, resolution, one_thread):
    arch = dataclasses.replace(
        sample_archs(get_space(name), 1, seed=seed)[0], resolution=resolution
    )
    torch.manual_seed(seed)
    model = arch.build(num_classes=10)
    assert model.training and all(m.training for m in model.modules())
    assert len(model) == len(arch.layers(num_classes=10))
    x, y = torch.randn(2, 3, resolution, resolution), torch.tensor([3, 7])
    assert model(x).shape == (2, 10)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if not losses:
            assert all(p.grad is not None for p in model.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    after = list(model.parameters())
    classifier = list(model[-1].parameters())
    assert classifier and all(  # the classifier (the last layer, 10 outputs) moved
        not torch.equal(p, before[len(after) - len(classifier) + i])
        for i, p in enumerate(classifier)
    )
    changed = sum(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert changed > 0.9 * len(before)
    assert losses[-1] < losses[0]


def test_built_module_matches_its_layers(one_thread):
    """A sampled arch's module, decomposed, gives back the arch's layers."""
    for name in ELASTIC:
        arch = sample_archs(get_space(name), 1, seed=9)[0]
        specs = decompose_module(arch.build(), arch.input_shape).specs
        assert [s.key for s in specs] == [s.key for s in arch.layers()]


# --- bad records -------------------------------------------------------------------------------
def _layer(record, i=1, j=0):
    return record["blocks"][i]["layers"][j]


BAD_RECORDS = [
    (
        lambda r: _layer(r).update(mid=100),
        r"blocks\[1\]\.layers\[0\]: give expansion or mid .*not both",
    ),
    (lambda r: _layer(r).pop("kernel"), r"blocks\[1\]\.layers\[0\]: missing kernel"),
    (lambda r: _layer(r).update(kernel=4), r"blocks\[1\]\.layers\[0\]\.kernel .*odd.*got 4"),
    (lambda r: _layer(r).update(kernel=17), r"blocks\[1\]\.layers\[0\]\.kernel .*got 17"),
    (lambda r: _layer(r).update(expansion=0), r"blocks\[1\]\.layers\[0\]\.expansion .*got 0"),
    (lambda r: _layer(r).update(expansion=2.5), r"blocks\[1\]\.layers\[0\]\.expansion .*2\.5"),
    (lambda r: _layer(r, 2, 1).update(expansion="6"), r"blocks\[2\]\.layers\[1\]\.expansion"),
    (
        lambda r: r["blocks"][1]["layers"].__setitem__(0, [5, 4]),
        r"blocks\[1\]\.layers\[0\] must be an object",
    ),
    (lambda r: r["blocks"].pop(), r"blocks must be a list of 5 blocks .* got 4 blocks"),
    (lambda r: r["blocks"][2].update(se=True), r"blocks\[2\]: unknown key\(s\) se"),
    (lambda r: r["blocks"][2].pop("layers"), r"blocks\[2\]: missing layers"),
    (lambda r: r["blocks"][2].update(layers=[]), r"blocks\[2\]\.layers must be a list of 1 to"),
    (lambda r: r["blocks"][2].update(layers="k3e3"), r"blocks\[2\]\.layers must be a list"),
    (lambda r: r["blocks"][3].update(channels=0), r"blocks\[3\]\.channels .*got 0"),
    (lambda r: r.update(resolution=225), r"resolution must be .*multiple of 8.*225"),
    (lambda r: r.update(space="mobilenetv4"), r"unknown search space 'mobilenetv4'"),
    (
        lambda r: r["blocks"].__setitem__(0, get_named_arch("mnasnet-a1").blocks[1].to_record()),
        r"blocks\[0\]: unknown key\(s\) expansion, kernel, op, se_ratio, skip; it has exactly "
        r"channels, layers",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_RECORDS)
def test_bad_records_name_the_field(mutate, message):
    record = get_named_arch("ofa-mbv3-max").to_dict()
    mutate(record)
    with pytest.raises(LutnasError, match=message):
        Arch.from_json(json.dumps(record))


def test_blocks_of_the_other_space_are_refused():
    v3, a1 = get_named_arch("ofa-mbv3-max"), get_named_arch("mnasnet-a1")
    with pytest.raises(LutnasError, match="space 'mnasnet' takes a BlockChoice, got StageChoice"):
        Arch("mnasnet", 224, v3.blocks + v3.blocks[:2])
    with pytest.raises(LutnasError, match="space 'mobilenetv3' takes a StageChoice, got BlockCh"):
        Arch("mobilenetv3", 224, a1.blocks[:5])
    assert isinstance(a1.blocks[0], BlockChoice)
    with pytest.raises(LutnasError, match="space 'mobilenetv3' has 5 stages, .* gives 4"):
        Arch("mobilenetv3", 224, v3.blocks[:4])
    with pytest.raises(LutnasError, match="stage 0: a stage has 1 to 32 layers"):
        Arch("mobilenetv3", 224, (StageChoice(24, ()),) + v3.blocks[1:])
    record = v3.to_dict() | {"space": "mnasnet"}  # mobilenetv3 stages given to mnasnet
    with pytest.raises(LutnasError, match="blocks must be a list of 7 blocks"):
        Arch.from_dict(record)
    record["blocks"] += record["blocks"][:2]
    with pytest.raises(LutnasError, match=r"blocks\[0\]: missing op"):
        Arch.from_dict(record)


def test_off_grid_but_valid_stages_are_archs_without_tokens():
    v3 = get_named_arch("ofa-mbv3-max")
    deep = StageChoice(24, (LayerChoice(3, 3),) * 5)
    arch = Arch("mobilenetv3", 224, (deep,) + v3.blocks[1:])
    assert arch.problems() == ["stage 0 depth 5 not in (2, 3, 4)"]
    wide = Arch("mobilenetv3", 96, (StageChoice(32, (LayerChoice(9, 5),) * 2),) + v3.blocks[1:])
    assert wide.problems() == [
        "resolution 96 not in (128, 144, 160, 176, 192, 208, 224)",
        "stage 0 channels 32 not in (24,)",
        "stage 0 layer 0 kernel 9 not in (3, 5, 7)",
        "stage 0 layer 0 expansion 5 not in (3, 4, 6)",
        "stage 0 layer 1 kernel 9 not in (3, 5, 7)",
        "stage 0 layer 1 expansion 5 not in (3, 4, 6)",
    ]
    assert Arch.from_json(wide.to_json()) == wide
    with pytest.raises(LutnasError, match="is not in space 'mobilenetv3', so it has no tokens"):
        wide.to_tokens()


# --- profile-device --dry-run ------------------------------------------------------------------
def test_dry_run_command_prints_the_space_unique_layers(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LUTNAS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lutnas.cli.main",
            "profile-device",
            "--space",
            "mobilenetv3",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "resolution 224: 95 unique layers",
        "total: 95 unique layers",
    ]


def test_dry_run_with_two_resolutions_and_named_archs(capsys):
    space = get_space("mobilenetv3")
    args = ["profile-device", "--space", "mobilenetv3", "--dry-run"]
    assert lutnas_main([*args, "--resolution", "128", "--resolution", "224"]) == 0
    out = capsys.readouterr().out
    both = {s.key for r in (128, 224) for s in space.unique_layers(r)}
    assert len(both) == 2 * 95 - 2  # the head's linear layer and the classifier are shared
    assert "resolution 128: 95 unique layers" in out
    assert "resolution 224: 95 unique layers" in out
    assert f"total: {len(both)} unique layers (a layer shared by several" in out

    assert lutnas_main(["profile-device", "--space", "mobilenetv3-small", "--dry-run"]) == 0
    assert "resolution 224: 77 unique layers" in capsys.readouterr().out

    # ofa-mbv3-max: per stage a first layer and one repeated layer (the other two repeats are
    # the same layer), with the stem segment and the head.
    assert lutnas_main([*args, "--arch", "ofa-mbv3-max"]) == 0
    assert "resolution 224: 15 unique layers" in capsys.readouterr().out
    assert lutnas_main(["profile-device", "--dry-run", "--arch", "ofa-mbv3-max"]) == 2
    assert "is from space 'mobilenetv3', not 'mnasnet'" in capsys.readouterr().err


def test_an_expanded_width_on_the_grid_is_written_as_its_expansion():
    # stage 0 takes the first block's 16 channels: 48 = 16 × 3 is expansion 3; its second
    # layer takes 24: 96 = 24 × 4. The same network written either way has one key, one set
    # of layers and tokens; a width off the grid (16 × 5 = 80) keeps its mid form.
    ofa_min = get_named_arch("ofa-mbv3-min")
    first = ofa_min.blocks[0]
    as_mid = StageChoice(first.channels, (LayerChoice(3, mid=48), LayerChoice(5, mid=96)))
    as_expansion = StageChoice(first.channels, (LayerChoice(3, 3), LayerChoice(5, 4)))
    a = dataclasses.replace(ofa_min, blocks=(as_mid, *ofa_min.blocks[1:]))
    b = dataclasses.replace(ofa_min, blocks=(as_expansion, *ofa_min.blocks[1:]))
    assert a == b and a.key == b.key and a.blocks[0].label() == "c24_k3e3-k5e4"
    assert a.to_tokens() == b.to_tokens() and a.layers() == b.layers()
    assert Arch.from_json(a.to_json()) == b
    off = dataclasses.replace(
        ofa_min,
        blocks=(StageChoice(24, (LayerChoice(3, mid=80), LayerChoice(3, 3))),) + ofa_min.blocks[1:],
    )
    assert off.blocks[0].layers[0] == LayerChoice(3, mid=80) and off.problems()
