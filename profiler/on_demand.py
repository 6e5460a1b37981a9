"""Measuring LUT rows on demand: rows a prediction is missing, timed on a backend configured
like the LUT (with its warm-up and runs) and added to the LUT file when it is reachable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from lut.spec import LayerSpec
from lut.store import LutStore
from lutnas.errors import LutnasError
from profiler.base import Backend


def config_diff(a: dict, b: dict) -> str:
    """``key: A vs B`` for every key whose values differ, comma-separated."""
    keys = sorted(set(a) | set(b))
    return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))


def measure_rows(
    backend: Backend,
    specs: Sequence[LayerSpec],
    *,
    backend_config: dict,
    lut_settings: dict,
    lut_path: str | None,
    put: Callable[[str, float], None],
) -> None:
    """Time each of ``specs`` on ``backend`` (entered here) as a LUT row.

    Args:
        backend: a backend, not entered; its configuration must be ``backend_config``.
        specs: the rows to measure, each once.
        backend_config: the LUT's backend configuration (a predictor's ``backend_config``).
        lut_settings: the LUT's settings (warm-up, runs, ...), used for the measurements.
        lut_path: the LUT file; when it exists, every row is also stored in it.
        put: receives ``(key, median_ms)`` as each row is measured, so a caller keeps what was
            measured before an error.

    Raises:
        LutnasError: the backend's configuration is not ``backend_config``.
    """
    from profiler.loop import ProfileSettings, measure_steady
    from profiler.workloads import layer_workload

    with backend:
        if backend.config() != backend_config:
            raise LutnasError(
                "the backend given has another configuration than the predictor's LUT ("
                f"{config_diff(backend_config, backend.config())}); measure with "
                "get_backend(name, threads=...) matching the LUT"
            )
        settings = ProfileSettings.from_identity(lut_settings)
        store = None
        if lut_path and Path(lut_path).is_file():
            store = LutStore.create_or_resume(
                lut_path, backend_config, backend.device_info(), lut_settings
            )
        try:
            for spec in specs:
                m, attempts = measure_steady(backend, layer_workload(spec), settings)
                put(spec.key, m.median_ms)
                if store is not None:
                    store.put_layer(spec, m, attempts)
        finally:
            if store is not None:
                store.close()
