"""torchvision networks among the whole models a predictor is fitted on: ``profile-device
--whole-models-include`` times them (and their layers) into the LUT, ``lutnas fit`` learns from
them unless told not to, and a network of a family the fit never saw is flagged as out of
distribution. Real onnxruntime timing at 64×64, few runs."""

from __future__ import annotations

import pytest

from lut.store import LutStore
from lutnas.errors import LutnasError
from predictor import LatencyPredictor
from predictor.named_networks import torchvision_layers
from profiler.networks import training_networks
from profiler.torchvision_nets import build_network

FAST = [
    "--runs", "3", "--warmup", "1", "--reference-every", "0", "--no-progress",
    "--no-drift-correction", "--resolution", "64",
]  # fmt: skip
NETWORKS = ("resnet18", "resnet34")  # share most layers: few rows to time


# A few layers of the space, six sampled whole models and the two networks (with their layers).
PROFILE = ["--limit", "3", "--whole-models", "6", "--whole-models-include", ",".join(NETWORKS)]


@pytest.fixture(scope="module")
def lut(tmp_path_factory):
    from lutnas.cli.profile import main

    out = tmp_path_factory.mktemp("nets") / "host.lut"
    assert main([*PROFILE, "--out", str(out), *FAST]) == 0
    return out


@pytest.mark.slow
def test_included_networks_are_timed_with_their_layers(lut, capsys):
    with LutStore.open(lut, writable=False) as store:
        record = training_networks(store.meta)
        have = store.layer_keys()
    assert sorted(record) == ["resnet18@64", "resnet34@64"]
    for key, r in record.items():
        assert r["name"] == key.split("@")[0] and r["resolution"] == 64
        assert r["median_ms"] > 0 and r["timed_as"] == "module"
        assert {s.key for s in torchvision_layers(r["name"], 64)} <= have
    from lutnas.cli.profile import main  # the same command again times nothing more

    capsys.readouterr()
    assert main([*PROFILE, "--out", str(lut), *FAST]) == 0
    out = capsys.readouterr().out
    assert "torchvision networks: 0 measured" in out
    assert "layers: 0 measured" in out and "whole models: 0 measured" in out


@pytest.mark.slow
def test_fit_learns_from_the_networks_unless_told_not_to(lut, tmp_path, capsys):
    from lutnas.cli.main import main

    assert main(["fit", "--lut", str(lut), "--out", str(tmp_path / "with.predictor")]) == 0
    assert "2 of them torchvision networks: resnet18@64, resnet34@64" in (capsys.readouterr().out)
    with_nets = LatencyPredictor.load(tmp_path / "with.predictor")
    assert with_nets.training_networks == ("resnet18@64", "resnet34@64")
    assert with_nets.meta["training"]["measurements"] == 8
    without = LatencyPredictor.fit(lut, networks=())
    assert without.training_networks == () and without.meta["training"]["measurements"] == 6
    # ResNet's pools and residual blocks lie outside what the arch-only fit saw: flagged
    resnet = build_network("resnet18")
    p = without.predict_module(resnet, (1, 3, 64, 64), strict=True)
    assert p.out_of_distribution and any("share_pool" in r for r in p.ood_reasons)
    assert p.estimated_keys == () and p.latency_ms > 0
    q = with_nets.predict_module(resnet, (1, 3, 64, 64), strict=True)
    assert not any("share_pool" in r or "share_block" in r for r in q.ood_reasons)
    only = LatencyPredictor.fit(lut, networks=["resnet18"])
    assert only.training_networks == ("resnet18@64",)
    with pytest.raises(LutnasError, match="network 'googlenet' was not timed into this LUT"):
        LatencyPredictor.fit(lut, networks=["googlenet"])


def test_an_unknown_network_is_refused_before_anything_is_timed(tmp_path, capsys):
    from lutnas.cli.profile import main

    out = tmp_path / "x.lut"
    assert main(["--whole-models-include", "resnet19", "--out", str(out), *FAST]) == 2
    assert "error: torchvision has no model 'resnet19'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_a_graph_network_predicts_with_rows_measured_on_demand(lut, tmp_path, capsys):
    """The CLI and the Python API predict networks whose rows the LUT lacks by measuring them
    (SqueezeNet: max pools, concats, plain convs; RegNet: grouped bottlenecks)."""
    import json
    import shutil

    from lutnas.cli.main import main
    from profiler.base import get_backend

    copy = tmp_path / "copy.lut"
    shutil.copy(lut, copy)
    saved = tmp_path / "p.predictor"
    assert main(["fit", "--lut", str(copy), "--out", str(saved)]) == 0
    capsys.readouterr()
    wanted = {s.key for s in torchvision_layers("squeezenet1_1", 64)}
    args = ["predict", "--predictor", str(saved), "--torchvision", "squeezenet1_1"]
    assert main([*args, "--resolution", "64", "--measure-missing", "--json"]) == 0
    out = capsys.readouterr()
    record = json.loads(out.out)
    assert record["latency_ms"] > 0 and record["estimated_keys"] == []
    assert set(record["measured_keys"]) <= wanted and record["measured_keys"]
    assert f"rows measured and added to {copy.resolve()}" in out.err
    with LutStore.open(copy, writable=False) as store:
        assert wanted <= store.layer_keys()
    predictor = LatencyPredictor.load(saved, lut=copy)
    regnet = build_network("regnet_x_400mf")
    backend = get_backend("onnxruntime", threads=1)
    detail = predictor.predict_module(regnet, (1, 3, 64, 64), backend=backend)
    assert detail.measured_keys and detail.estimated_keys == ()
    assert any(k.startswith("bottleneck_") and "_g" in k for k in detail.measured_keys)


@pytest.mark.slow
def test_every_mobile_network_predicts_from_the_cli(lut, tmp_path, capsys):
    """All 27 networks of issue 30 predict from ``lutnas predict --torchvision``; the rows this
    LUT (MnasNet-space layers and two ResNets) lacks are estimated, each named."""
    import json

    from lutnas.cli.main import main
    from profiler.torchvision_nets import MOBILE_NETWORKS

    saved = tmp_path / "p.predictor"
    assert main(["fit", "--lut", str(lut), "--out", str(saved)]) == 0
    with LutStore.open(lut, writable=False) as store:
        have = store.layer_keys()
    capsys.readouterr()
    for name in MOBILE_NETWORKS:
        args = ["predict", "--predictor", str(saved), "--torchvision", name]
        assert main([*args, "--resolution", "64", "--json"]) == 0, name
        record = json.loads(capsys.readouterr().out)
        keys = {s.key for s in torchvision_layers(name, 64)}
        assert record["network"] == name and record["latency_ms"] > 0, name
        assert set(record["estimated_keys"]) == keys - have, name
        assert record["measured_keys"] == [], name
