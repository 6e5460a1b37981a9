"""Published networks written as ``Arch``es of the mnasnet space, provided by name."""

from __future__ import annotations

from lutnas.errors import LutnasError
from spaces.arch import Arch, BlockChoice


def _arch(*labels: str) -> Arch:
    """An architecture of the mnasnet space at 224×224, one block label per stage (the grammar
    of :class:`BlockChoice`, as in :attr:`Arch.key`)."""
    return Arch(
        space="mnasnet",
        resolution=224,
        blocks=tuple(BlockChoice.from_label(label) for label in labels),
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
