"""Where accuracy evaluations run: in this process, in local worker processes, or on Ray.

Every executor has the same contract (:class:`EvalExecutor`): give it a list of
architectures, get back one :class:`EvalOutcome` per architecture *as each finishes* (any order;
``index`` says which). An evaluation that raises is an outcome with ``error`` set, never an
exception out of the executor; the executor stays usable. The evaluator is shipped to each
worker once (pickled, see :mod:`search.evaluators.base`) and keeps its loaded data there.

- :class:`InProcessExecutor`: one at a time, here (``workers <= 1``; the simplest to debug).
- :class:`LocalPoolExecutor`: ``workers`` processes started with ``spawn`` (never ``fork``:
  the parent holds torch/XGBoost thread pools that do not survive a fork), torch at one thread
  each, Ctrl-C left to the parent.
- :class:`search.ray_executor.RayExecutor`: one Ray actor per worker (1 CPU each) on a local
  Ray instance started here, the instance already running in this process, or a cluster at
  ``address``.

:func:`make_executor` picks one and falls back from Ray to local processes, with a warning,
when Ray is not installed (``pip install 'lutnas[ray]'``).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

from lutnas.errors import LutnasError
from lutnas.processes import exit_with_parent
from lutnas.spaces.arch import Arch
from search.evaluators.base import AccuracyEvaluator

log = logging.getLogger(__name__)

RAY_HINT = "install it with: pip install 'lutnas[ray]'"


@dataclass(frozen=True, kw_only=True)
class EvalOutcome:
    """The result of evaluating one architecture.

    Attributes:
        index: position of the architecture in the list given to ``map_unordered``.
        accuracy: the evaluator's score in [0, 1]; None when the evaluation failed.
        error: why it failed (exception type and message); None on success.
        seconds: wall time of the evaluation itself, in the worker.
        worker: where it ran (``pid 123``, ``ray node 10.0.0.2 pid 456``).
    """

    index: int
    accuracy: float | None
    error: str | None
    seconds: float
    worker: str

    @classmethod
    def of(cls, index: int, result: tuple) -> EvalOutcome:
        """The outcome of architecture ``index`` from what :func:`evaluate_safely` returned."""
        accuracy, error, seconds, worker = result
        return cls(index=index, accuracy=accuracy, error=error, seconds=seconds, worker=worker)


def evaluate_safely(evaluator: AccuracyEvaluator, arch: Arch, worker: str) -> tuple:
    """Run one evaluation; returns ``(accuracy, error, seconds, worker)``, never raises
    (except ``KeyboardInterrupt``/``SystemExit``, which are not ``Exception``)."""
    start = time.perf_counter()
    try:
        value = float(evaluator.evaluate(arch))
        if not 0.0 <= value <= 1.0:  # also refuses NaN
            raise LutnasError(f"{type(evaluator).__name__} returned {value!r}, outside [0, 1]")
        return value, None, time.perf_counter() - start, worker
    except Exception as exc:  # noqa: BLE001 - reported as a failed candidate, not a crash
        return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - start, worker


class EvalExecutor(ABC):
    """Runs accuracy evaluations; use as a context manager (``close`` on exit).

    ``map_unordered`` may be called many times (once per search batch); workers persist between
    calls. ``close`` stops what the executor started and is safe to call twice.
    """

    @property
    @abstractmethod
    def description(self) -> str:
        """Where evaluations run, for the progress line (``2 local processes``)."""

    @abstractmethod
    def map_unordered(self, archs: Sequence[Arch]) -> Iterator[EvalOutcome]:
        """Evaluate every arch; yield each outcome as soon as it is known."""

    def close(self) -> None:
        return None

    def __enter__(self) -> EvalExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InProcessExecutor(EvalExecutor):
    """Evaluations one after another in this process."""

    def __init__(self, evaluator: AccuracyEvaluator) -> None:
        self.evaluator = evaluator

    @property
    def description(self) -> str:
        return "this process"

    def map_unordered(self, archs: Sequence[Arch]) -> Iterator[EvalOutcome]:
        worker = f"pid {os.getpid()}"
        for i, arch in enumerate(archs):
            yield EvalOutcome.of(i, evaluate_safely(self.evaluator, arch, worker))


# --- local processes ----------------------------------------------------------------------------

_WORKER_EVALUATOR: AccuracyEvaluator | None = None


def _init_pool_worker(evaluator: AccuracyEvaluator, parent_pid: int) -> None:
    """Pool initializer: :func:`_init_worker`, and exit with the parent (a local pool's
    workers are the search's children; Ray's are not, Ray ends them itself)."""
    exit_with_parent(parent_pid)
    _init_worker(evaluator)


def _init_worker(evaluator: AccuracyEvaluator) -> None:
    """Keep the evaluator, one torch thread, Ctrl-C handled by the parent."""
    global _WORKER_EVALUATOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # a user evaluator may not need torch
        pass
    _WORKER_EVALUATOR = evaluator


def _evaluate_in_worker(arch: Arch) -> tuple:
    assert _WORKER_EVALUATOR is not None, "worker started without _init_worker"
    return evaluate_safely(_WORKER_EVALUATOR, arch, f"pid {os.getpid()}")


class LocalPoolExecutor(EvalExecutor):
    """``workers`` spawned processes; at most ``workers`` evaluations in flight."""

    def __init__(self, evaluator: AccuracyEvaluator, workers: int) -> None:
        if workers < 1:
            raise LutnasError(f"workers must be at least 1, got {workers}")
        self.evaluator, self.workers = evaluator, workers
        self._pool: ProcessPoolExecutor | None = None
        self._abandoned = False

    @property
    def description(self) -> str:
        return f"{self.workers} local processes"

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_pool_worker,
                initargs=(self.evaluator, os.getpid()),
            )
        return self._pool

    def map_unordered(self, archs: Sequence[Arch]) -> Iterator[EvalOutcome]:
        pool = self._get_pool()
        futures: dict[Future, int] = {
            pool.submit(_evaluate_in_worker, a): i for i, a in enumerate(archs)
        }
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    exc = future.exception()
                    if exc is not None:  # the worker died (BrokenProcessPool) or pickling failed
                        raise LutnasError(
                            f"a local evaluation worker failed: {type(exc).__name__}: {exc}. "
                            "If the evaluator cannot be pickled, run with --workers 1."
                        ) from exc
                    yield EvalOutcome.of(futures[future], future.result())
        finally:
            for future in futures:
                if not future.done():  # abandoned (Ctrl-C, an error upstream)
                    future.cancel()
                    self._abandoned = True

    def close(self) -> None:
        """Stop the workers: after a complete batch they exit; after an abandoned one (Ctrl-C)
        they are terminated rather than left to finish evaluations nobody will read."""
        if self._pool is None:
            return
        if self._abandoned:
            processes = list(getattr(self._pool, "_processes", {}).values())  # no public API
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(timeout=10)
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None


def import_ray():
    """The ``ray`` module, or None when it is not installed."""
    try:
        import ray
    except ImportError:
        return None
    return ray


def make_executor(
    evaluator: AccuracyEvaluator,
    workers: int,
    use_ray: bool = False,
    ray_address: str | None = None,
) -> EvalExecutor:
    """The executor for these options.

    Args:
        evaluator: the accuracy evaluator every worker runs.
        workers: evaluations at once (``<= 1`` without Ray: in this process).
        use_ray: run on Ray (a local instance unless ``ray_address``).
        ray_address: join this Ray cluster (implies ``use_ray``).

    Without Ray installed, a Ray request falls back to local processes and logs a warning.
    """
    if use_ray or ray_address:
        if import_ray() is not None:
            from search.ray_executor import RayExecutor

            return RayExecutor(evaluator, workers, ray_address)
        log.warning(
            "Ray is not installed, so evaluations run in %d local process(es) instead; %s",
            max(1, workers),
            RAY_HINT,
        )
    if workers <= 1:
        return InProcessExecutor(evaluator)
    return LocalPoolExecutor(evaluator, workers)
