"""The torchvision classification networks that run on phones, by family: the networks lutnas
decomposes, predicts, and can fit on (``profile-device --whole-models-include``).

Random weights (``weights=None``): latency does not depend on weight values, and nothing is
downloaded. Each family is the networks one design gives at several widths or depths.
"""

from __future__ import annotations

from collections.abc import Iterable

from lutnas.errors import LutnasError

FAMILIES: dict[str, tuple[str, ...]] = {
    "mobilenet": ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"),
    "mnasnet": ("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"),
    "efficientnet": ("efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3"),
    "shufflenet": (
        "shufflenet_v2_x0_5",
        "shufflenet_v2_x1_0",
        "shufflenet_v2_x1_5",
        "shufflenet_v2_x2_0",
    ),
    "squeezenet": ("squeezenet1_0", "squeezenet1_1"),
    "regnet": (
        "regnet_x_400mf",
        "regnet_x_800mf",
        "regnet_x_1_6gf",
        "regnet_y_400mf",
        "regnet_y_800mf",
        "regnet_y_1_6gf",
    ),
    "resnet": ("resnet18", "resnet34", "resnet50"),
    "googlenet": ("googlenet",),
}
MOBILE_NETWORKS: tuple[str, ...] = tuple(n for names in FAMILIES.values() for n in names)
_FAMILY = {n: family for family, names in FAMILIES.items() for n in names}


def family_of(name: str) -> str:
    """The family of a network of :data:`MOBILE_NETWORKS` (another torchvision network: its
    name)."""
    return _FAMILY.get(name, name)


def expand_names(text: str | Iterable[str]) -> list[str]:
    """Network names from a comma-separated list, where a family name stands for its networks
    (``resnet18,shufflenet`` → resnet18 and the four ShuffleNetV2s), in order, once each.

    Raises:
        LutnasError: a name that is neither a torchvision classification model nor a family.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        for name in FAMILIES.get(item, (item,)):
            check_name(name)
            if name not in out:
                out.append(name)
    return out


def check_name(name: str) -> None:
    """Raise a LutnasError naming the choices when torchvision has no model ``name``."""
    import torchvision.models as tvm

    try:
        tvm.get_model_builder(name)
    except ValueError:
        raise LutnasError(
            f"torchvision has no model {name!r}; e.g. {', '.join(MOBILE_NETWORKS[:4])}, or a "
            f"family: {', '.join(FAMILIES)}"
        ) from None


def build_network(name: str, device: str | None = None):
    """torchvision's ``name`` with random weights, eval mode (on ``device``: ``"meta"`` builds
    only the shapes, in a fraction of the time).

    Raises:
        LutnasError: torchvision has no such model.
    """
    import warnings

    import torch
    import torchvision.models as tvm

    check_name(name)
    builder = tvm.get_model_builder(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GoogLeNet's note on its default weight init
        try:
            with torch.device(device or "cpu"):
                return builder(weights=None).eval()
        except NotImplementedError:  # a builder computing widths with tensors (RegNet)
            return builder(weights=None).eval().to(device)
