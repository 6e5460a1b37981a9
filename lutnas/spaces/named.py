"""Published networks written as ``Arch``es of lutnas's spaces, provided by name."""

from __future__ import annotations

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.space import get_space


def _arch(*labels: str, space: str = "mnasnet", resolution: int = 224) -> Arch:
    """An architecture from one block label per stage (the grammar of the space's block, as in
    :attr:`Arch.key`)."""
    blocks = tuple(get_space(space).block_from_label(label) for label in labels)
    return Arch(space=space, resolution=resolution, blocks=blocks)


def _uniform(space: str, resolution: int, depth: int, layer: str) -> Arch:
    """Every stage of ``space`` at its own width with ``depth`` layers ``layer`` (``k7e6``)."""
    stages = get_space(space).stages
    return _arch(
        *(f"c{s.channels}_" + "-".join([layer] * depth) for s in stages),
        space=space,
        resolution=resolution,
    )


_NAMED: dict[str, Arch] = {
    # MnasNet-A1 (arXiv 1807.11626, Fig. 7). Stage 4's 112 channels are off the 0.75/1.0/1.25
    # grid of 96 (72/96/120): expressible as an Arch and profilable, but it has no tokens.
    "mnasnet-a1": _arch(
        "dconv_k3_noskip_c16_n1",  # r1_k3_s11_e1_i32_o16_noskip
        "mbconv6_k3_idskip_c24_n2",  # r2_k3_s22_e6_i16_o24
        "mbconv3_k5_se0.25_idskip_c40_n3",  # r3_k5_s22_e3_i24_o40_se0.25
        "mbconv6_k3_idskip_c80_n4",  # r4_k3_s22_e6_i40_o80
        "mbconv6_k3_se0.25_idskip_c112_n2",  # r2_k3_s11_e6_i80_o112_se0.25
        "mbconv6_k5_se0.25_idskip_c160_n3",  # r3_k5_s22_e6_i112_o160_se0.25
        "mbconv6_k3_idskip_c320_n1",  # r1_k3_s11_e6_i160_o320
    ),
    # MobileNetV2 1.0 (the space's base): t=1 first stage = dconv, then MBConv6 k3, residuals
    # where shapes match. ReLU instead of ReLU6 (the space's activation).
    "mobilenetv2-1.0": _arch(
        "dconv_k3_noskip_c16_n1",
        "mbconv6_k3_idskip_c24_n2",
        "mbconv6_k3_idskip_c32_n3",
        "mbconv6_k3_idskip_c64_n4",
        "mbconv6_k3_idskip_c96_n3",
        "mbconv6_k3_idskip_c160_n3",
        "mbconv6_k3_idskip_c320_n1",
    ),
    # MobileNetV3-Large 1.0 (arXiv 1905.02244, Table 1; torchvision's mobilenet_v3_large):
    # layer for layer the same LayerSpecs and parameter count. Its expanded widths 200 and 184
    # (expansion 2.5 and 2.3) are off the grid, so it has no tokens.
    "mobilenetv3-large": _arch(
        "c24_k3e4-k3e3",
        "c40_k5e3-k5e3-k5e3",
        "c80_k3e6-k3m200-k3m184-k3m184",
        "c112_k3e6-k3e6",
        "c160_k5e6-k5e6-k5e6",
        space="mobilenetv3",
    ),
    # MobileNetV3-Small 1.0 (Table 2; torchvision's mobilenet_v3_small) in the Small-based space;
    # its first stage's widths 72 and 88 (expansion 4.5 and 3.7) are off the grid.
    "mobilenetv3-small": _arch(
        "c24_k3m72-k3m88",
        "c40_k5e4-k5e6-k5e6",
        "c48_k5e3-k5e3",
        "c96_k5e6-k5e6-k5e6",
        space="mobilenetv3-small",
    ),
    # The largest and smallest networks of Once-for-All's MobileNetV3 space.
    "ofa-mbv3-max": _uniform("mobilenetv3", 224, 4, "k7e6"),
    "ofa-mbv3-min": _uniform("mobilenetv3", 128, 2, "k3e3"),
}


def list_named_archs() -> list[str]:
    return sorted(_NAMED)


def get_named_arch(name: str) -> Arch:
    try:
        return _NAMED[name]
    except KeyError:
        raise LutnasError(
            f"unknown architecture {name!r}; named ones are "
            f"{', '.join(list_named_archs())}, or pass a JSON file"
        ) from None
