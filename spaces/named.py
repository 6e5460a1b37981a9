"""Published networks written as ``Arch``es of the mnasnet space, provided by name."""

from __future__ import annotations

from lutnas.errors import LutnasError
from spaces.arch import Arch, BlockChoice


def _b(op: str, e: int, k: int, se: float, skip: str, c: int, n: int) -> BlockChoice:
    return BlockChoice(op, e, k, se, skip, c, n)


_NAMED: dict[str, Arch] = {
    # MnasNet-A1 (arXiv 1807.11626, Fig. 7). Stage 4's 112 channels are off the 0.75/1.0/1.25
    # grid of 96 (72/96/120): expressible as an Arch and profilable, but it has no tokens.
    "mnasnet-a1": Arch(
        "mnasnet",
        224,
        (
            _b("dconv", 1, 3, 0.0, "noskip", 16, 1),  # r1_k3_s11_e1_i32_o16_noskip
            _b("mbconv", 6, 3, 0.0, "idskip", 24, 2),  # r2_k3_s22_e6_i16_o24
            _b("mbconv", 3, 5, 0.25, "idskip", 40, 3),  # r3_k5_s22_e3_i24_o40_se0.25
            _b("mbconv", 6, 3, 0.0, "idskip", 80, 4),  # r4_k3_s22_e6_i40_o80
            _b("mbconv", 6, 3, 0.25, "idskip", 112, 2),  # r2_k3_s11_e6_i80_o112_se0.25
            _b("mbconv", 6, 5, 0.25, "idskip", 160, 3),  # r3_k5_s22_e6_i112_o160_se0.25
            _b("mbconv", 6, 3, 0.0, "idskip", 320, 1),  # r1_k3_s11_e6_i160_o320
        ),
    ),
    # MobileNetV2 1.0 (the space's base): t=1 first stage = dconv, then MBConv6 k3, residuals
    # where shapes match. ReLU instead of ReLU6 (the space's activation).
    "mobilenetv2-1.0": Arch(
        "mnasnet",
        224,
        (
            _b("dconv", 1, 3, 0.0, "noskip", 16, 1),
            _b("mbconv", 6, 3, 0.0, "idskip", 24, 2),
            _b("mbconv", 6, 3, 0.0, "idskip", 32, 3),
            _b("mbconv", 6, 3, 0.0, "idskip", 64, 4),
            _b("mbconv", 6, 3, 0.0, "idskip", 96, 3),
            _b("mbconv", 6, 3, 0.0, "idskip", 160, 3),
            _b("mbconv", 6, 3, 0.0, "idskip", 320, 1),
        ),
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
