"""``--whole-models N`` times only architectures whose every layer is in the LUT (it profiles
them first, whatever ``--limit`` says), and ``--fill-models`` mends a file made before that."""

from __future__ import annotations

import dataclasses

import pytest

from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.named import get_named_arch
from predictor import LatencyPredictor
from profiler.base import get_backend
from profiler.loop import ProfileSettings, profile_models

FAST = [
    "--runs",
    "3",
    "--warmup",
    "1",
    "--reference-every",
    "0",
    "--no-progress",
    "--no-drift-correction",
    "--resolution",
    "64",
]


def _gaps(path) -> list[str]:
    with LutStore.open(path, writable=False) as store:
        have = store.layer_keys()
        return [
            s.key
            for j in store.models_frame()["arch_json"]
            for s in Arch.from_json(j).layers()
            if s.key not in have
        ]


def test_whole_models_bring_their_layers_despite_limit(tmp_path, capsys):
    from lutnas.cli.profile import main

    out = tmp_path / "small.lut"
    assert main(["--limit", "3", "--whole-models", "2", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "for the whole models' architectures" in printed
    with LutStore.open(out, writable=False) as store:
        assert len(store.model_keys()) == 2
    assert _gaps(out) == []


def test_dry_run_counts_the_whole_models_layers(capsys):
    from lutnas.cli.profile import main

    assert main(["--dry-run", "--limit", "3", "--whole-models", "2", "--resolution", "64"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert ", 3 after --limit, and " in last and "whole models' architectures need" in last


def test_fill_models_profiles_exactly_the_missing_layers(tmp_path, capsys):
    from lutnas.cli.profile import main

    out = tmp_path / "old.lut"
    settings = ProfileSettings(warmup=1, runs=3, reference_every=0, drift_correction=False)
    arch = dataclasses.replace(get_named_arch("mobilenetv2-1.0"), resolution=64)
    with get_backend("onnxruntime") as backend:  # an old file: a whole model, no layers
        with LutStore.create(
            out, backend.config(), backend.device_info(), settings.identity()
        ) as store:
            profile_models(backend, store, [arch], settings, progress=False)
    missing = _gaps(out)
    assert missing
    with pytest.raises(LutnasError, match=f"profile-device --fill-models --out {out}"):
        LatencyPredictor.fit(out)  # what lutnas fit says, and the command below works
    assert main(["--fill-models", "--out", str(out), *FAST[:-2]]) == 0
    printed = capsys.readouterr().out
    assert f"profiling {len(set(missing))} layers" in printed and "whole models lack" in printed
    assert _gaps(out) == []
