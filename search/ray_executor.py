"""Evaluations on Ray: one actor per worker, each holding its evaluator (see
:mod:`search.parallel` for the executor contract; :func:`search.parallel.make_executor` picks
this one for ``--ray``/``--ray-address``)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from search.evaluators.base import AccuracyEvaluator
from search.parallel import (
    RAY_HINT,
    EvalExecutor,
    EvalOutcome,
    _init_worker,
    evaluate_safely,
    import_ray,
)


class _EvalActor:
    """Body of a Ray actor: holds one evaluator (and its data) for the actor's lifetime."""

    def __init__(self, evaluator: AccuracyEvaluator) -> None:
        import ray

        _init_worker(evaluator)
        self.evaluator = evaluator
        self.worker = f"ray node {ray.util.get_node_ip_address()} pid {os.getpid()}"

    def evaluate(self, arch: Arch) -> tuple:
        return evaluate_safely(self.evaluator, arch, self.worker)


class RayExecutor(EvalExecutor):
    """One actor per worker, each asking Ray for 1 CPU.

    With ``address`` the driver joins that cluster (``ray.init(address=...)``); otherwise it
    uses the Ray instance this process already started, or starts a local one with ``workers``
    CPUs and no dashboard. Only an instance started here is shut down by :meth:`close`.
    On a remote cluster the evaluator's code must be importable on the nodes (lutnas installed
    there; a ``module:function`` evaluator's module too).
    """

    def __init__(
        self, evaluator: AccuracyEvaluator, workers: int | None = None, address: str | None = None
    ) -> None:
        ray = import_ray()
        if ray is None:
            raise LutnasError(f"Ray is not installed; {RAY_HINT}")
        self._ray = ray
        self._started_here = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False}
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=workers or os.cpu_count() or 1, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise LutnasError(
                    f"could not start or join {where}: {exc}. Check the address "
                    "(ray status), or run without --ray"
                ) from None
            self._started_here = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(workers or cpus, cpus))
        actor_cls = ray.remote(num_cpus=1)(_EvalActor)
        self._actors = [actor_cls.remote(evaluator) for _ in range(self.workers)]
        self._busy = False

    @property
    def description(self) -> str:
        return f"{self.workers} Ray actors"

    def map_unordered(self, archs: Sequence[Arch]) -> Iterator[EvalOutcome]:
        if self._busy:
            raise LutnasError("this Ray executor was abandoned mid-batch; make a new one")
        ray = self._ray
        todo = list(enumerate(archs))
        idle = list(self._actors)
        in_flight: dict = {}  # object ref -> (index, actor)
        try:
            while todo or in_flight:
                while todo and idle:
                    index, arch = todo.pop(0)
                    actor = idle.pop(0)
                    in_flight[actor.evaluate.remote(arch)] = (index, actor)
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    index, actor = in_flight.pop(ref)
                    idle.append(actor)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the actor or its node died
                        raise LutnasError(f"a Ray evaluation worker failed: {exc}") from exc
                    yield EvalOutcome.of(index, result)
        finally:
            if in_flight:  # abandoned (an error upstream): close() kills the busy actors
                self._busy = True

    def close(self) -> None:
        for actor in getattr(self, "_actors", []):
            self._ray.kill(actor)
        self._actors = []
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_here = False
