"""Whole networks timed for the accuracy report, recorded in the LUT they are compared with.

:func:`measure_torchvision` times torchvision networks (random weights) and the LUT rows they
need; :func:`measure_repeats` times whole models of the LUT again, for the ground truth's
noise. Both run on a host backend configured like the LUT (:func:`profiler.base.host_backend`)
with its warm-up, runs and drift reference, and record into the LUT's metadata, so a report can
be re-run without re-measuring:

- ``torchvision_models``: {name: the first measurement's statistics, ``resolution``,
  ``attempts``, ``timed_as`` (``module``: torchvision's own module; ``layers``: the chain of
  lutnas layer modules it decomposes into, on a backend whose exporter writes only those, such
  as LiteRT), and later measurements' medians in ``repeats_ms``};
- ``repeat_measurements``: {arch key: [median ms, ...]}, the measurements after the first;
- ``training_networks``: {``name@resolution``: the measurement's statistics, ``name``,
  ``resolution``, ``attempts``, ``timed_as``}, torchvision networks timed as training data for
  the predictor (:func:`profile_networks`, ``profile-device --whole-models-include``), apart from
  ``torchvision_models`` so a report's torchvision networks stay held out.

A network's layers come from ``layers_of(name, resolution)``: its LayerSpecs in order (a chain)
or its :class:`~lut.network.SpecGraph` (``predictor.evaluate.torchvision_graph``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from profiler.base import Backend, Workload, host_backend
from profiler.loop import (
    ProfileReport,
    ProfileSettings,
    measure_steady,
    profile_layers,
    reference_for,
    run_workloads,
)
from profiler.workloads import arch_workload

if TYPE_CHECKING:  # lut.network loads torch: only when a network is built or timed
    from lut.network import SpecGraph

TORCHVISION = (
    "mnasnet0_5",
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
)
TORCHVISION_KEY = "torchvision_models"  # LUT metadata keys written here
REPEATS_KEY = "repeat_measurements"
TRAINING_KEY = "training_networks"
LayersOf = Callable[[str, int], "SpecGraph | Sequence[LayerSpec]"]


def torchvision_measurements(meta: dict) -> dict[str, dict]:
    """The torchvision measurements recorded in a LUT's metadata (name → record)."""
    return dict(meta.get(TORCHVISION_KEY) or {})


def repeat_measurements(meta: dict) -> dict[str, list[float]]:
    """The repeat measurements recorded in a LUT's metadata (arch key → latencies in ms)."""
    raw = meta.get(REPEATS_KEY) or {}
    return {k: (list(v) if isinstance(v, list) else [float(v)]) for k, v in raw.items()}


def _backend_for(store: LutStore) -> Backend:
    return host_backend(store.backend_config, "measuring for the report")


def _torchvision_model(name: str):
    from profiler.torchvision_nets import build_network

    return build_network(name)


def training_networks(meta: dict) -> dict[str, dict]:
    """The training networks recorded in a LUT's metadata (``name@resolution`` → record)."""
    return dict(meta.get(TRAINING_KEY) or {})


def as_graph(layers: SpecGraph | Sequence[LayerSpec]) -> SpecGraph:
    """A network's layers as a graph (a list of LayerSpecs is a chain)."""
    from lut.network import SpecGraph

    return layers if isinstance(layers, SpecGraph) else SpecGraph.chain(layers)


def _as_layers(layers: SpecGraph | Sequence[LayerSpec]):
    """The network of ``layers`` built from lutnas's own layer modules (what a backend whose
    exporter writes only those can time; a torchvision network decomposes into exactly these
    layers, so it is the same network, layer for layer)."""
    from lut.network import build_network

    return build_network(as_graph(layers))


def _torchvision_workload(
    backend: Backend, name: str, resolution: int, layers_of: LayersOf
) -> tuple[Workload, str]:
    """The workload timing torchvision's ``name`` on ``backend``, and its form: ``module``
    (torchvision's own), or ``layers`` where the backend's exporter takes lutnas's modules only
    (:attr:`~profiler.base.Backend.any_module`)."""
    shape = (1, 3, resolution, resolution)
    key = f"torchvision:{name}@{resolution}"
    if backend.any_module:
        return Workload(key, lambda: _torchvision_model(name), shape), "module"
    graph = as_graph(layers_of(name, resolution))
    form = "layers" if all(len(s) == 1 for s in graph.inputs) else "graph"
    return Workload(f"{key}:{form}", lambda: _as_layers(graph), shape), "layers"


def measure_torchvision(
    lut: str | Path,
    names: Sequence[str] = TORCHVISION,
    resolution: int = 224,
    progress: bool = False,
    times: int = 1,
    *,
    layers_of: LayersOf,
) -> dict[str, dict]:
    """Measure torchvision networks ``times`` times each (passes apart) and the LUT rows they
    need, on the LUT's backend configuration; recorded in the LUT (see the module docstring).

    Args:
        lut: the LUT file.
        names: torchvision model builders.
        resolution: input height and width.
        progress: show progress bars for the rows.
        times: measurements of each network in all (earlier ones recorded count).
        layers_of: ``(name, resolution) ->`` the network's layers, the rows it needs
            (``predictor.evaluate.torchvision_graph``).

    Returns:
        The LUT's ``torchvision_models`` record after the measurements.

    Raises:
        LutnasError: the LUT is not a host backend's, or this machine's backend configuration
            differs from the LUT's.
    """
    with LutStore.open(lut) as store:
        backend = _backend_for(store)
        settings = ProfileSettings.from_identity(store.settings)
        done = torchvision_measurements(store.meta)
        with backend:
            if backend.config() != store.backend_config:
                raise LutnasError(
                    "this machine's backend configuration differs from the LUT's; "
                    "measure on the machine and versions the LUT was made with"
                )
            reference = reference_for(backend, store, settings)
            for name in names:
                specs = as_graph(layers_of(name, resolution)).specs
                profile_layers(backend, store, list(specs), settings, progress)
            for time_ in range(times):
                for name in names:
                    have = 1 + len(done[name].get("repeats_ms", [])) if name in done else 0
                    if have > time_:
                        continue
                    w, form = _torchvision_workload(backend, name, resolution, layers_of)
                    m, attempts = measure_steady(backend, w, settings, reference)
                    if name in done:
                        done[name]["repeats_ms"] = [*done[name].get("repeats_ms", []), m.median_ms]
                    else:
                        done[name] = {
                            **m.to_dict(),
                            "resolution": resolution,
                            "attempts": attempts,
                            "timed_as": form,
                        }
                    store.set_meta(TORCHVISION_KEY, done)
    return done


def profile_networks(
    backend: Backend,
    store: LutStore,
    names: Sequence[str],
    resolutions: Sequence[int],
    settings: ProfileSettings,
    *,
    layers_of: LayersOf,
    progress: bool = True,
) -> ProfileReport:
    """Time the whole torchvision networks ``names`` at each resolution not yet recorded in
    ``store``'s ``training_networks``, like the whole models of ``profile_models`` (on host
    backends in turns with the reference and rescaled to its calibrated speed). Their layers
    should be in the LUT first (``layers_of`` gives them) so ``lutnas fit`` can use them.
    Each finished network is recorded at once."""
    done = training_networks(store.meta)
    items = []
    for resolution in resolutions:
        for name in names:
            key = f"{name}@{resolution}"
            if key in done:
                continue
            workload, form = _torchvision_workload(backend, name, resolution, layers_of)

            def put(m, attempts, key=key, name=name, resolution=resolution, form=form):
                record = training_networks(store.meta)
                record[key] = {
                    **m.to_dict(),
                    "name": name,
                    "resolution": resolution,
                    "attempts": attempts,
                    "timed_as": form,
                }
                store.set_meta(TRAINING_KEY, record)

            items.append((workload, put))
    reference = reference_for(backend, store, settings) if items else None
    report = run_workloads(backend, store, items, settings, "networks", progress, reference)
    report.skipped = len(names) * len(resolutions) - len(items)
    return report


def measure_repeats(
    lut: str | Path, archs: Sequence[Arch], times: int = 1
) -> dict[str, list[float]]:
    """Measure whole models of the LUT ``times`` more times each, one pass over them per time
    (so a model's measurements are minutes apart); recorded in ``repeat_measurements``.

    Args:
        lut: the LUT file.
        archs: the architectures to re-measure (the report's held-out ones:
            ``predictor.evaluate.held_out_archs``).
        times: repeat measurements of each in all (earlier ones recorded count).

    Returns:
        The LUT's ``repeat_measurements`` record after the measurements.

    Raises:
        LutnasError: the LUT is not a host backend's.
    """
    with LutStore.open(lut) as store:
        backend = _backend_for(store)
        settings = ProfileSettings.from_identity(store.settings)
        done = repeat_measurements(store.meta)
        with backend:
            reference = reference_for(backend, store, settings)
            for time_ in range(times):
                for arch in archs:
                    if len(done.get(arch.key, [])) > time_:
                        continue
                    m = measure_steady(backend, arch_workload(arch), settings, reference)[0]
                    done[arch.key] = [*done.get(arch.key, []), m.median_ms]
                    store.set_meta(REPEATS_KEY, done)
    return done
