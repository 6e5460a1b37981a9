"""What every profiler backend promises, the measurement it returns, and the backend registry.

A backend times one *workload* — a single layer or a whole model, given as a module builder and
its batch-1 input shape — on one target (the host CPU, a phone over adb, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from lut.measurement import Measurement
from lutnas.errors import LutnasError
from lutnas.registry import Registry

if TYPE_CHECKING:
    from lut.store import LutStore


class BackendError(LutnasError):
    """One workload could not be measured. The message names the workload (its key)."""


class DeviceLostError(BackendError):
    """The target went away (phone unplugged, server gone). Stop the run; it can be resumed."""


@dataclass(frozen=True)
class Workload:
    """Something to time.

    Attributes:
        key: a LayerSpec key or an architecture key; names the workload in errors and caches.
        build: returns a fresh ``nn.Module`` in eval mode (random weights are fine).
        input_shape: the batch-1 input tensor shape, e.g. ``(1, 3, 224, 224)``.
        more_input_shapes: the shapes of further inputs, for a module taking several tensors
            (an add, a concat); backends feed one random tensor per shape, in this order.
    """

    key: str
    build: Callable[[], object]
    input_shape: tuple[int, ...]
    more_input_shapes: tuple[tuple[int, ...], ...] = ()

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Every input's shape, the first being ``input_shape``."""
        return (tuple(self.input_shape), *(tuple(s) for s in self.more_input_shapes))


OnRow = Callable[[int, Measurement | BackendError], None]  # a batch's row (or error) by index


class Backend(ABC):
    """Times workloads on one target.

    Lifecycle: construct with options (``get_backend(name, **options)``), then use as a context
    manager: ``__enter__`` prepares the target (pins the process, connects, pushes a runner) and
    ``__exit__`` cleans up what the backend created on the target, also after an error.

    Units: every figure is milliseconds of wall time for one batch-1 forward pass.
    Warm-up: ``measure`` runs the workload ``warmup`` times untimed, then ``runs`` times timed
    (a runner on a phone may time them itself); the first call for a workload also pays any
    export or upload, which is never inside the timed runs.
    On failure: ``measure`` raises :class:`BackendError` naming the workload and returns no
    partial result; the backend stays usable for the next workload, except after
    :class:`DeviceLostError`, which ends the run (a later run resumes).
    """

    name: ClassVar[str]
    # True when measure_against() can interleave runs with a reference (profiler.reference)
    interleaves_reference: ClassVar[bool] = False
    # False when the backend's exporter writes lutnas's own layer modules only (lut.modules), so
    # another network (torchvision's) is timed as the chain of its layers (profiler.networks)
    any_module: ClassVar[bool] = True
    # set by the profiling loop: called with a short text ("waiting for the phone: 12 s of
    # 90 s") while one measurement takes long, to keep a progress bar alive
    heartbeat: Callable[[str], None] | None = None
    # the precisions it can time and the delegates it can time with (profiler.precision); its
    # config() records the ones it does
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    delegates: ClassVar[tuple[str, ...]] = ()
    # workloads the profiling loop hands measure_batch at a time (a phone: one push and one
    # shell for them all, profiler.batched); 1: measure, one at a time
    batch_size: int = 1

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @classmethod
    def from_config(cls, config: dict) -> Backend:
        """A backend (not entered) set up like the one that wrote ``config`` (see
        :meth:`config`), for re-timing on the same configuration. Host backends can; the default
        takes the threads only."""
        return cls(threads=int(config.get("threads", 1)))

    def open_lut(self, path: str | Path, settings: dict, resume: bool = True) -> LutStore:
        """Create the LUT at ``path`` for this backend, or resume it when its configuration and
        ``settings`` are this backend's (:meth:`lut.store.LutStore.create_or_resume`). A backend
        that can carry on with a file measured under a slightly different configuration (a
        phone runner re-downloaded) overrides this and records what it allowed."""
        from lut.store import LutStore

        return LutStore.create_or_resume(
            path, self.config(), self.device_info(), settings, resume=resume
        )

    @abstractmethod
    def config(self) -> dict:
        """Everything that changes the numbers: backend name and version, threads, device
        identity, exporter and opset, ... Two tables may be resumed or merged only when their
        configs are equal. Values are JSON-serialisable."""

    @abstractmethod
    def device_info(self) -> dict:
        """Descriptive facts of the target (CPU model, phone model, SoC, frequencies, ...)."""

    def exporter(self) -> Callable[[Workload], object] | None:
        """A picklable call writing a workload's model file into the export cache, the one
        :meth:`measure` loads, so worker processes can make files ahead of the timing
        (:mod:`profiler.prepare`); None when the backend loads no file (torch eager)."""
        return None

    def prepare_cores(self) -> set[int]:
        """Cores those workers may use without sharing one the timing runs on (entered
        backends only); empty: no spare core, files are made in turn."""
        return set()

    @abstractmethod
    def measure(self, workload: Workload, warmup: int, runs: int) -> Measurement:
        """Time ``workload`` and return its statistics (see the class docstring)."""

    def measure_batch(
        self, workloads: Sequence[Workload], warmup: int, runs: int, on_row: OnRow
    ) -> None:
        """Time each of ``workloads``; ``on_row(index, measurement or BackendError)`` hears each
        once, as soon as it is timed (so a batch cut off by :class:`DeviceLostError`, which is
        raised, has handed over every row it finished). Default: :meth:`measure` in turn."""
        for i, workload in enumerate(workloads):
            try:
                m = self.measure(workload, warmup, runs)
            except DeviceLostError:
                raise
            except BackendError as exc:
                on_row(i, exc)
                continue
            on_row(i, m)

    def measure_against(
        self, workload: Workload, reference: Workload, warmup: int, runs: int
    ) -> tuple[Measurement, Measurement]:
        """Time ``workload`` and ``reference`` in alternation, one run of each in turn, and
        return both statistics (raw). Only where :attr:`interleaves_reference` is True."""
        raise NotImplementedError(f"the {self.name} backend cannot interleave a reference")


# Built-ins are imported on first use, so a missing ai-edge-litert only stops `litert`.
_BACKENDS: Registry[type[Backend]] = Registry(
    "backend",
    builtins={
        "onnxruntime": "profiler.backends.onnxruntime:OnnxRuntimeBackend",
        "torch": "profiler.backends.torch_eager:TorchBackend",
        "litert": "profiler.backends.litert:LiteRtBackend",
        "adb": "profiler.backends.adb:AdbBackend",
    },
    pip_names={"ai_edge_litert": "ai-edge-litert"},
)


def register_backend(name: str, cls: type[Backend]) -> type[Backend]:
    """Register a backend class under ``name``; a taken name is an error."""
    return _BACKENDS.register(name, cls)


def list_backends() -> list[str]:
    return _BACKENDS.list()


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``, imported on first use.

    Raises:
        LutnasError: unknown name, or its optional dependency is not installed.
    """
    return _BACKENDS.lookup(name)


def get_backend(name: str, **options: object) -> Backend:
    """``get_backend("onnxruntime", threads=1)``: a configured, not yet entered, backend.

    Raises:
        LutnasError: unknown name, missing optional dependency, or an option the backend does
            not take.
    """
    return _BACKENDS.get(name, **options)


HOST_BACKENDS = ("onnxruntime", "torch", "litert")


def host_backend(config: dict, purpose: str = "re-timing") -> Backend:
    """A host backend configured like ``config`` (a LUT's backend config), not entered.

    Raises:
        LutnasError: ``config`` is not a host backend's (a phone's, say); the message starts
            with ``purpose``.
    """
    name = config.get("backend")
    if name not in HOST_BACKENDS:
        raise LutnasError(
            f"{purpose} runs on host backends ({', '.join(HOST_BACKENDS)}); the LUT was "
            f"measured with {name!r}"
        )
    return backend_class(name).from_config(config)
