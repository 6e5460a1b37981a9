"""Re-timing rows of a LUT in place, in one session: the remedies the quality verdict names.

- whole models timed while the machine's speed moved (drift factor more than
  :data:`~profiler.quality.DRIFT_MAX` from the table's median: :func:`off_speed_keys`), or all
  of them;
- layer rows noisier than a robust CV threshold (:func:`noisy_keys`).

Runs on this machine with the LUT's own backend configuration (host backends; a resumed
profile's checks refuse another) and its drift reference, so re-timed whole models are
rescaled to the same calibrated speed as the rest. Each row is replaced as its new measurement
finishes (an interrupted re-time keeps what it did; running it again continues). A layer row
keeps its old measurement when the new one is no steadier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.spaces.arch import Arch
from profiler.base import host_backend
from profiler.loop import ProfileReport, ProfileSettings, reference_for, run_workloads
from profiler.quality import noisy_keys, off_speed_keys, robust_noise
from profiler.workloads import arch_workload, layer_workload

__all__ = ["RetimeReport", "noisy_keys", "off_speed_keys", "retime"]


@dataclass(frozen=True)
class RetimeReport:
    layers: ProfileReport | None
    models: ProfileReport | None
    kept_old: int  # layer rows whose new measurement was no steadier than the stored one


def retime(
    path: str,
    *,
    layer_keys: Sequence[str] = (),
    model_keys: Sequence[str] = (),
    progress: bool = True,
) -> RetimeReport:
    """Re-time the rows of ``layer_keys`` and ``model_keys`` in the LUT at ``path``.

    Raises:
        LutnasError: not a host backend's LUT, this machine's backend configuration differs
            from the LUT's, another process writes it, or a key it does not hold.
    """
    with LutStore.open(path, writable=False) as store:
        config, settings_identity = store.backend_config, store.settings
    backend = host_backend(config, "lutnas lut retime")
    settings = ProfileSettings.from_identity(settings_identity)
    with backend:
        with backend.open_lut(path, settings_identity) as store:
            layers = store.layers_frame().set_index("key")
            models = store.models_frame().set_index("arch_key")
            _check_keys(path, layer_keys, set(layers.index), model_keys, set(models.index))
            kept = []
            layer_report = None
            if layer_keys:
                old = dict(zip(layers.index, robust_noise(layers), strict=True))

                def put_layer(spec: LayerSpec, m, attempts: int) -> None:
                    if math.isnan(old[spec.key]) or m.robust_cv < old[spec.key]:
                        store.put_layer(spec, m, attempts)
                    else:
                        kept.append(spec.key)

                items = [
                    (layer_workload(s), lambda m, n, s=s: put_layer(s, m, n))
                    for s in (LayerSpec.from_key(k) for k in layer_keys)
                ]
                layer_report = run_workloads(backend, store, items, settings, "layers", progress)
            model_report = None
            if model_keys:
                reference = reference_for(backend, store, settings)
                items = []
                for key in model_keys:
                    row = models.loc[key]
                    arch = Arch.from_json(row["arch_json"])
                    name = row["name"] if isinstance(row["name"], str) else None
                    put = lambda m, n, a=arch, name=name: store.put_model(a, m, n, name=name)  # noqa: E731
                    items.append((arch_workload(arch), put))
                model_report = run_workloads(
                    backend, store, items, settings, "whole models", progress, reference
                )
    return RetimeReport(layers=layer_report, models=model_report, kept_old=len(kept))


def _check_keys(path, layer_keys, layers: set, model_keys, models: set) -> None:
    from lutnas.errors import LutnasError

    unknown = [k for k in layer_keys if k not in layers]
    unknown += [k for k in model_keys if k not in models]
    if unknown:
        raise LutnasError(f"{path} has no row {unknown[0]!r}; nothing was re-timed")
