"""Torchvision networks timed for the reports (profiler.networks), on real host backends: as
torchvision's own module where the backend takes any module, and as the chain of lutnas layers
it decomposes into where the exporter writes only those (LiteRT)."""

import pytest

from lut.store import LutStore
from predictor.evaluate import torchvision_graph, torchvision_layers
from profiler.backends.litert import LiteRtBackend
from profiler.backends.torch_eager import TorchBackend
from profiler.loop import ProfileSettings
from profiler.networks import measure_torchvision, torchvision_measurements

SETTINGS = ProfileSettings(warmup=1, runs=3, drift_correction=False)
NAME, RESOLUTION = "mobilenet_v3_small", 64


def _lut(path, backend) -> str:
    LutStore.create(path, backend.config(), backend.device_info(), SETTINGS.identity()).close()
    return str(path)


@pytest.mark.parametrize(
    "backend, form",
    [(TorchBackend(), "module"), (LiteRtBackend(), "layers")],
    ids=["torch", "litert"],
)
def test_a_torchvision_network_is_timed_and_recorded(tmp_path, backend, form):
    lut = _lut(tmp_path / f"{backend.name}.lut", backend)
    done = measure_torchvision(
        lut, names=(NAME,), resolution=RESOLUTION, times=2, layers_of=torchvision_graph
    )
    record = done[NAME]
    assert record["timed_as"] == form and record["resolution"] == RESOLUTION
    assert record["median_ms"] > 0 and len(record["repeats_ms"]) == 1
    with LutStore.open(lut, writable=False) as store:
        assert torchvision_measurements(store.meta) == done  # recorded, for later reports
        layers = torchvision_layers(NAME, RESOLUTION)
        assert {s.key for s in layers} <= store.layer_keys()  # and the rows it needs
    # a second call with the same count measures nothing more
    again = measure_torchvision(
        lut, names=(NAME,), resolution=RESOLUTION, times=2, layers_of=torchvision_graph
    )
    assert again == done
