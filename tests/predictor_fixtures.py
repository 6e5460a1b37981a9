"""A tiny real LUT for the predictor tests: variants of one small network, measured for real.

MobileNetV2 at 32×32 with one stage changed per variant, so the variants share most layers and
the whole LUT (about 40 rows and 6 whole models) is measured with onnxruntime in seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from lut.store import LutStore
from lutnas.spaces.arch import Arch, StageChoice
from lutnas.spaces.named import get_named_arch
from predictor.meta_schema import seal, stored_name
from profiler.base import get_backend
from profiler.loop import ProfileSettings, profile_layers, profile_models

RESOLUTION = 32
SETTINGS = ProfileSettings(warmup=2, runs=7, max_attempts=1, reference_every=0)


def variants(n: int = 6) -> list[Arch]:
    """``n`` distinct small architectures: MobileNetV2 with one stage's choice changed."""
    base = dataclasses.replace(get_named_arch("mobilenetv2-1.0"), resolution=RESOLUTION)
    changes = [
        dict(kernel=5),
        dict(op="conv", expansion=1),
        dict(op="dconv", expansion=1),
        dict(expansion=3),
        dict(se_ratio=0.25),
        dict(skip="poolskip"),
    ]
    out = [base]
    for stage in (1, 3, 5, 2, 4, 6):
        for change in changes:
            blocks = list(base.blocks)
            blocks[stage] = dataclasses.replace(blocks[stage], **change)
            arch = Arch(base.space, RESOLUTION, tuple(blocks))
            if arch.key not in {a.key for a in out}:
                out.append(arch)
            if len(out) == n:
                return out
    return out


def mbv3_variants(n: int = 6, resolution: int = RESOLUTION) -> list[Arch]:
    """``n`` distinct small architectures of the mobilenetv3 space: its smallest network with
    one stage's kernel, expansion or depth changed."""
    base = dataclasses.replace(get_named_arch("ofa-mbv3-min"), resolution=resolution)
    out = [base]
    for stage in range(len(base.blocks)):
        for label in ("k5e3-k3e3", "k3e6-k3e3", "k3e3-k7e4", "k3e3-k3e3-k3e3"):
            blocks = list(base.blocks)
            blocks[stage] = StageChoice.from_label(f"c{blocks[stage].channels}_{label}")
            out.append(Arch(base.space, resolution, tuple(blocks)))
            if len(out) == n:
                return out
    return out


def build_lut(path: Path, archs: list[Arch], extra_layers_of: list[Arch] = ()) -> Path:
    """Measure the layers and whole models of ``archs`` (and the layers only of
    ``extra_layers_of``) with onnxruntime at 1 thread."""
    with get_backend("onnxruntime", threads=1) as backend:
        with LutStore.create(
            path, backend.config(), backend.device_info(), SETTINGS.identity()
        ) as store:
            specs = [s for a in [*archs, *extra_layers_of] for s in a.layers()]
            profile_layers(backend, store, specs, SETTINGS, progress=False)
            profile_models(backend, store, archs, SETTINGS, progress=False)
    return path


# --- editing a saved predictor, as another lutnas version or a damaged disk would leave it -----


def read_meta(path: Path) -> dict:
    """The ``meta.json`` record of the predictor directory ``path``."""
    return json.loads((path / "meta.json").read_text())


def write_meta(path: Path, meta: dict) -> None:
    """Write ``meta`` as the record of ``path``, sealed as lutnas seals it (what a version that
    wrote these values would have left: only the values differ, not the seal)."""
    (path / "meta.json").write_text(json.dumps(seal(meta)))


def stored_file(path: Path, name: str) -> Path:
    """Where the file the record lists as ``name`` (``point.ubj``) lies in ``path``."""
    meta = read_meta(path)
    return path / stored_name(name, meta["files"][name], meta["schema_version"])


def replace_file(path: Path, name: str, data: bytes) -> None:
    """Put ``data`` in place of the record's ``name`` with its hash recorded anew (a file a
    tool changed and re-registered), the old file removed."""
    meta = read_meta(path)
    stored_file(path, name).unlink()
    meta["files"][name] = hashlib.sha256(data).hexdigest()
    (path / stored_name(name, meta["files"][name], meta["schema_version"])).write_bytes(data)
    write_meta(path, meta)
