"""A stated clock for tests about bookkeeping rather than measuring: :mod:`profiler.timing`
reads it instead of the real one, and it moves only when a workload says how long it ran. The
real backends and timing loop run as they are; only the latencies are the test's own, so the
figures are exact on a busy machine (tests/README.md)."""

from types import SimpleNamespace


class StatedClock:
    """The clock :mod:`profiler.timing` reads: it moves only when a workload says it ran."""

    def __init__(self) -> None:
        self.ns = 0

    def perf_counter_ns(self) -> int:
        return self.ns

    def advance(self, ms: float) -> None:
        self.ns += round(ms * 1e6)


def install_stated_clock(monkeypatch) -> StatedClock:
    """A new :class:`StatedClock`, read by :mod:`profiler.timing` until the test ends."""
    stated = StatedClock()
    monkeypatch.setattr(
        "profiler.timing.time", SimpleNamespace(perf_counter_ns=stated.perf_counter_ns)
    )
    return stated
