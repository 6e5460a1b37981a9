"""What a calibration accepts: each measured network expanded into its layers, every value
checked (a latency in a range a device can show, a resolution a network can have), and each
network measured once.

Accepted forms: ``(Arch, ms)``, ``(name, ms)`` with a named architecture or a torchvision model
name (at 224 px), ``(name, resolution, ms)``, and ``(module, input_shape, ms)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from tqdm import tqdm

from lut.spec import LayerSpec
from lutnas.errors import LutnasError
from lutnas.numbers import whole
from lutnas.spaces.arch import Arch
from lutnas.spaces.base import MAX_RESOLUTION, MIN_RESOLUTION  # as --resolution accepts

MIN_LATENCY_MS = 1e-3  # a whole network faster than a microsecond was not measured
MAX_LATENCY_MS = 1e6  # nor one slower than a quarter of an hour
PROGRESS_FROM = 50  # measurements from which expanding them shows a progress bar

Expanded = tuple[str, str, list[LayerSpec], int, float]  # label, family, layers, px, ms


def expand_all(measurements: Sequence, sources: Sequence[str] | None = None) -> list[Expanded]:
    """:func:`expand` each measurement (a progress bar from :data:`PROGRESS_FROM` of them),
    then refuse a network measured twice.

    Args:
        measurements: the measurements.
        sources: where each came from (``pixel7.csv:4``), to name in errors; default: none
            (an error names the item).

    Raises:
        LutnasError: a measurement that cannot be used, or a network given twice.
    """
    items = list(measurements)
    if sources is not None and len(sources) != len(items):
        raise ValueError("one source per measurement")
    bar = tqdm(items, desc="calibrate: networks", unit="net", disable=len(items) < PROGRESS_FROM)
    out = []
    for i, item in enumerate(bar):
        try:
            out.append(expand(item))
        except LutnasError as exc:
            if sources is None:
                raise
            raise LutnasError(f"{sources[i]}: {exc}") from None
    _refuse_duplicates(out, sources)
    return out


def expand(item: object) -> Expanded:
    """``(label, family, layers, resolution, latency_ms)`` of one measurement; the family is
    the architecture's search space, ``torchvision`` or ``module``.

    Raises:
        LutnasError: a form or name that cannot be expanded, a latency outside
            [:data:`MIN_LATENCY_MS`, :data:`MAX_LATENCY_MS`] or a resolution outside
            [:data:`MIN_RESOLUTION`, :data:`MAX_RESOLUTION`]; the message names the item.
    """
    if not isinstance(item, tuple | list) or len(item) not in (2, 3):
        raise LutnasError(
            f"a measurement is (network, latency_ms) or (network, shape or "
            f"resolution, latency_ms), got {item!r}"
        )
    network, latency_ms = item[0], check_latency(item[-1], item)
    if isinstance(network, Arch):
        return network.key, network.space, network.layers(), network.resolution, latency_ms
    if isinstance(network, str):
        resolution = check_resolution(item[1], item) if len(item) == 3 else 224
        family, specs = _named_layers(network, resolution)
        return network, family, specs, resolution, latency_ms
    if len(item) == 3 and hasattr(network, "forward"):
        from predictor.decompose import decompose_module

        shape = _shape(item[1], item)
        specs = decompose_module(network, shape).specs
        return type(network).__name__, "module", specs, shape[-2], latency_ms
    raise LutnasError(
        f"measurement {item!r}: the network must be an Arch, a named "
        "architecture, a torchvision model name or an nn.Module with its shape"
    )


def check_latency(value: object, item: object) -> float:
    """A measured whole-network latency in ms, within what a device can show."""
    try:
        latency_ms = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        latency_ms = math.nan
    if not (math.isfinite(latency_ms) and MIN_LATENCY_MS <= latency_ms <= MAX_LATENCY_MS):
        raise LutnasError(
            f"measurement {_short(item)}: latency_ms must be a number of ms from "
            f"{MIN_LATENCY_MS:g} to {MAX_LATENCY_MS:g} (a whole network's median run time), "
            f"got {value!r}"
        )
    return latency_ms


def check_resolution(value: object, item: object) -> int:
    """An input resolution in pixels, as ``--resolution`` accepts it."""
    try:
        return whole(value, "resolution", MIN_RESOLUTION, MAX_RESOLUTION)
    except LutnasError as exc:
        raise LutnasError(f"measurement {_short(item)}: {exc} (pixels)") from None


def _shape(value: object, item: object) -> tuple[int, ...]:
    ok = isinstance(value, tuple | list) and len(value) == 4
    if not ok:
        raise LutnasError(f"measurement {_short(item)}: the shape must be (1, 3, H, W)")
    shape = tuple(whole(d, "a dimension of the shape", 1, MAX_RESOLUTION) for d in value)
    check_resolution(shape[-2], item)
    return shape


def _short(item: object) -> str:
    text = repr(item)
    return text if len(text) <= 80 else text[:77] + "..."


def _named_layers(name: str, resolution: int) -> tuple[str, list[LayerSpec]]:
    """The family (search space or ``torchvision``) and layers of a named network."""
    from lutnas.spaces.named import get_named_arch, list_named_archs

    if name in list_named_archs():
        arch = dataclasses.replace(get_named_arch(name), resolution=resolution)
        return arch.space, arch.layers()
    import torchvision.models as tvm

    if name not in tvm.list_models(module=tvm):
        raise LutnasError(
            f"{name!r} is neither a named architecture ({', '.join(list_named_archs())}) nor a "
            "torchvision classification model (torchvision.models.list_models())"
        )
    from predictor.named_networks import torchvision_layers

    return "torchvision", torchvision_layers(name, resolution)


def _refuse_duplicates(expanded: list[Expanded], sources: Sequence[str] | None) -> None:
    """One measurement per network: the same layers at the same resolution twice is an error
    naming both (with 7.0 and 70.0 ms for one network the map would fit neither)."""
    seen: dict[tuple, int] = {}
    for i, (label, _, specs, resolution, latency_ms) in enumerate(expanded):
        identity = (tuple(s.key for s in specs), resolution)
        first = seen.setdefault(identity, i)
        if first == i:
            continue
        where = sources or [f"measurement {n}" for n in range(1, len(expanded) + 1)]
        raise LutnasError(
            f"{where[i]} measures {label} at {resolution} px again ({where[first]}: "
            f"{expanded[first][4]:g} ms, here {latency_ms:g} ms); give each network once, "
            "e.g. the median of its measurements"
        )
