"""Model files made ahead of the timing core, by worker processes on the other cores.

A host backend pins its timing to the last cores of the process's affinity
(:func:`profiler.host.pin_to_cores`). While it times one layer, :class:`PrepareAhead` has the
next layers' ONNX or ``.tflite`` files written into the export cache by worker processes
confined to the remaining cores, through the same cached exporter the backend loads from
(:func:`profiler.export.cached_export`), so the timing loop only loads and times. What is timed,
and how, does not change: the backend still makes any file that is missing itself, in turn.

Rules the pool keeps:

- The timing core is never shared with an exporter: worker processes, their threads and the
  pool's own threads in this process start with the spare cores as their affinity.
- The timing process never waits for the pool to start: until a worker has imported its
  exporter, and for any layer no worker has taken yet when the loop reaches it, the timing
  process makes the file itself (today's order); a layer a worker is writing is waited for, so
  two processes never write the same cache entry.
- Nothing is lost on interruption: on Ctrl-C, an error or the end of the run the workers are
  terminated; a worker stopped mid-export removes its temporary file (cached files appear only
  by atomic rename), and one whose parent was killed ends by itself
  (:func:`lutnas.processes.exit_with_parent`).
- Without a spare core (one core, or the backend's timing not pinned) there is no pool.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from lutnas.processes import exit_with_parent, leave_interrupts_to_parent
from profiler.base import Backend, Workload

log = logging.getLogger(__name__)

MakeFile = Callable[[Workload], object]  # writes a workload's model file into the export cache


@contextlib.contextmanager
def thread_affinity(cores: set[int]) -> Iterator[None]:
    """Run the calling thread on ``cores`` inside the block; processes and threads it starts
    there inherit them (Linux affinity is per thread and inherited)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _init_worker(cores: set[int], parent_pid: int) -> None:
    os.sched_setaffinity(0, cores)  # already inherited; set again in case the parent's changed
    exit_with_parent(parent_pid)
    leave_interrupts_to_parent()


def _warm(make_file: MakeFile) -> int:
    """The first task: unpickling ``make_file`` imports the exporter (torch and all)."""
    return os.getpid()


def _make(make_file: MakeFile, workload: Workload) -> None:
    try:
        make_file(workload)
    except SystemExit:  # terminated by the parent mid-export; the temporary file is gone
        os._exit(143)


class PrepareAhead:
    """Makes the model files of ``workloads``, in order and up to ``ahead`` at a time, with
    ``make_file`` in ``workers`` processes confined to ``cores``.

    Use as a context manager; call :meth:`ready` with each index before timing that workload.
    """

    def __init__(
        self,
        make_file: MakeFile,
        workloads: Sequence[Workload],
        cores: set[int],
        workers: int,
        ahead: int | None = None,
    ) -> None:
        if not cores or workers < 1:
            raise ValueError("a pool needs at least one core and one worker")
        self.make_file, self.workloads, self.cores = make_file, list(workloads), set(cores)
        self.workers = workers
        self.ahead = ahead or 4 * workers + 4
        self._pool: ProcessPoolExecutor | None = None
        self._warm: list[Future] = []  # one start-up task per worker
        self._futures: dict[int, Future] = {}
        self._next = 0  # the next index to submit
        self._broken = False
        self.made_ahead = 0  # files a worker made (or found) before the loop needed them
        self.made_here = 0  # workloads the loop reached before a worker took them

    def __enter__(self) -> PrepareAhead:
        with thread_affinity(self.cores):
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.cores, os.getpid()),
            )
            # every worker starts now, here: later submissions need no change of affinity
            self._warm = [self._pool.submit(_warm, self.make_file) for _ in range(self.workers)]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def wait_started(self, timeout_s: float | None = None) -> None:
        """Block until a worker has started and imported its exporter (tests use this; the
        loop never waits for it)."""
        wait(self._warm, timeout=timeout_s, return_when=FIRST_COMPLETED)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for checks of their affinity)."""
        processes = getattr(self._pool, "_processes", None) or {}  # no public API
        return [p.pid for p in processes.values() if p.is_alive()]

    def ready(self, index: int) -> None:
        """Return once no worker is making the file of ``workloads[index]``: it is made, or
        it failed, or no worker had taken it (then the backend makes it, as without a pool)."""
        future = self._futures.pop(index, None)
        if self._broken or self._pool is None:
            return
        if future is None:
            self.made_here += 1
        elif future.cancel():
            self.made_here += 1
        else:
            try:
                future.result()
                self.made_ahead += 1
            except BrokenProcessPool as exc:
                self._give_up(exc)
                return
            except Exception as exc:  # the backend will make it and report what fails
                self.made_here += 1
                log.debug("a worker could not make %s: %s", self.workloads[index].key, exc)
        started = [f for f in self._warm if f.done()]
        if started:
            if all(f.exception() is not None for f in started):
                self._give_up(started[0].exception())
                return
            self._top_up(index + 1)

    def _top_up(self, start: int) -> None:
        self._next = max(self._next, start)
        end = min(len(self.workloads), start + self.ahead)
        while self._next < end:
            workload = self.workloads[self._next]
            if _picklable(workload):
                try:
                    self._futures[self._next] = self._submit(workload)
                except BrokenProcessPool as exc:
                    self._give_up(exc)
                    return
            self._next += 1

    def _submit(self, workload: Workload) -> Future:
        processes = getattr(self._pool, "_processes", None)
        if processes is not None and len(processes) >= self.workers:
            return self._pool.submit(_make, self.make_file, workload)  # no process to start
        with thread_affinity(self.cores):  # a worker started now inherits the spare cores
            return self._pool.submit(_make, self.make_file, workload)

    def _give_up(self, exc: BaseException) -> None:
        log.warning(
            "the exporter pool stopped (%s); model files are made in the timing process, in turn",
            exc,
        )
        self._broken = True
        self.close()

    def close(self) -> None:
        """Stop the workers (a file being written is abandoned, its temporary file removed);
        safe to call twice."""
        if self._pool is None:
            return
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join(timeout=10)
        self._pool = None
        self._futures.clear()


def _picklable(workload: Workload) -> bool:
    try:
        pickle.dumps(workload)
    except Exception:  # a builder closing over local state: the backend makes that one
        return False
    return True


class NoPreparation:
    """Stands in for :class:`PrepareAhead` where there is no pool: every file is made by the
    backend when it times the workload (today's order)."""

    made_ahead = 0
    made_here = 0
    worker_pids: list[int] = []

    def __enter__(self) -> NoPreparation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def ready(self, index: int) -> None:
        return None


def prepare_ahead(
    backend: Backend, workloads: Sequence[Workload], workers: int | None = None
) -> PrepareAhead | NoPreparation:
    """A pool making ``workloads``' model files for ``backend`` (entered) ahead of its timing,
    or :class:`NoPreparation` when the backend loads no file (torch), has no spare core, there
    is at most one workload, or ``workers`` is 0.

    Args:
        backend: the entered backend that will time ``workloads`` in order.
        workloads: what the loop will time, in its order.
        workers: worker processes; None: one per spare core.
    """
    make_file = backend.exporter()
    cores = backend.prepare_cores()
    count = len(cores) if workers is None else min(workers, len(cores))
    if make_file is None or count < 1 or len(workloads) < 2:
        return NoPreparation()
    return PrepareAhead(make_file, workloads, cores, count)
