"""Small space files for the tests (no tests here): a layer-wise space with zero layers, SE and
two activations, and a factorized one, both cheap to profile at 32×32 and 48×48."""

from __future__ import annotations

from pathlib import Path

# profile-device options that keep a test's profile short: few runs, no interleaved reference
QUICK_PROFILE = ["--runs", "5", "--warmup", "1", "--reference-every", "0", "--no-progress"]

TINY = """\
# A tiny layer-wise space: two stages, the first with up to three layers (the second and third
# may be zero), the second with one.
name = "tiny"
kind = "layerwise"
resolutions = [32, 48]
stem = { channels = 8, kernel = 3, stride = 2, act = "relu6" }
stages = [
    { channels = 16, stride = 2, act = "relu6" },
    { channels = 24, stride = 2, act = "hswish", se = true, depths = [1], zero = false },
]
head = { channels = 64, act = "relu6", classes = 10 }

[choices]
depths = [3]
kernels = [3, 5]
expansions = [2, 4]
zero = true

[archs.tiny-a]
resolution = 32
blocks = ["c16_k3e2-k5e4", "c24_k3e4"]
"""

TINY_FACTORIZED = """\
name = "tinyf"
kind = "factorized"
resolutions = [32]
act = "relu"
stem = { channels = 8 }
stages = [
    { channels = 16, layers = 1, stride = 2 },
    { channels = 24, layers = 2, stride = 2, kernels = [3] },
]
head = { channels = 64, classes = 10 }

[choices]
conv_ops = ["dconv", "mbconv3"]
kernels = [3, 5]
se_ratios = [0.0, 0.25]
skips = ["idskip", "noskip"]
width_multipliers = [1.0]
layer_deltas = [0, 1]

[archs.tinyf-a]
resolution = 32
blocks = ["dconv_k3_noskip_c16_n2", "mbconv3_k3_se0.25_idskip_c24_n2"]
"""


def write_space(directory: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    """``text`` written to ``directory/name``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path
