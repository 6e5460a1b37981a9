"""One search as a whole: the configuration a record is bound to, and opening (or resuming)
the record, running the loop (:mod:`search.runner`) to the budget and closing it — the library
form of ``lutnas search`` without its outputs (:mod:`search.outputs`)."""

from __future__ import annotations

from dataclasses import dataclass

from lutnas.spaces.registry import definition_digest, is_builtin
from lutnas.spaces.space import Space
from search.evaluators.base import AccuracyEvaluator
from search.latency_model import LatencyModel, predictor_identity
from search.record import BatchStats, HistoryRow, SearchRecord
from search.reward import MnasReward
from search.runner import RunReport, SearchRunner
from search.strategies.base import Strategy


def search_config(
    space: Space,
    strategy: Strategy,
    evaluator: AccuracyEvaluator,
    predictor: LatencyModel,
    reward: MnasReward,
    batch_size: int,
) -> dict:
    """The configuration identity a record is bound to (budget and workers are not part of it:
    a search may be extended, and the worker count does not change results)."""
    return {
        "space": space_identity(space),
        "strategy": {"name": strategy.name, "seed": strategy.seed, "options": strategy.options},
        "batch_size": batch_size,
        "evaluator": evaluator.identity(),
        "predictor": predictor_identity(predictor),
        "reward": {
            "preset": reward.preset,
            "target_ms": reward.target_ms,
            "alpha": reward.alpha,
            "beta": reward.beta,
        },
    }


def space_identity(space: Space) -> dict:
    """The space in a record's configuration: its name and choice counts, and for a space from
    a file the digest of its definition (a changed file under the same name is refused)."""
    out = {"name": space.name, "choices": space.choice_counts()}
    if not is_builtin(space):
        out["definition_sha256"] = definition_digest(space)
    return out


@dataclass(frozen=True)
class SearchOutcome:
    """A finished (or already complete) search: this call's report (None when the record
    already held the budget), the record's whole history and its configuration."""

    report: RunReport | None
    history: list[HistoryRow]
    batches: list[BatchStats]
    config: dict
    record_path: str


def run_search(
    out_dir: str,
    space: Space,
    strategy: Strategy,
    evaluator: AccuracyEvaluator,
    predictor: LatencyModel,
    reward: MnasReward,
    *,
    budget: int,
    batch_size: int = 8,
    workers: int = 1,
    use_ray: bool = False,
    ray_address: str | None = None,
    progress: bool = True,
    announce: bool = False,
) -> SearchOutcome:
    """Open (or resume) the record in ``out_dir``, run to ``budget``, close; the library form
    of ``lutnas search`` without its outputs (see :mod:`search.outputs`).

    Raises:
        LutnasError: another configuration in the record, a record locked by another search,
            or an error from :meth:`SearchRunner.run`.
    """
    from pathlib import Path

    from search.parallel import make_executor
    from search.record import RECORD_NAME

    config = search_config(space, strategy, evaluator, predictor, reward, batch_size)
    report = None
    with SearchRecord.open(Path(out_dir) / RECORD_NAME, config) as record:
        done = record.tell_count()
        if announce:
            print(
                f"search: {strategy.name} on {space.name}, {budget} candidates (batches of "
                f"{batch_size}), {evaluator.label} [{evaluator.name}], reward "
                f"{reward.preset} T={reward.target_ms:g} ms"
                + (f"; resuming at {done}" if done else "")
                + f"; record {record.path}"
            )
        if done < budget:
            with make_executor(evaluator, workers, use_ray, ray_address) as executor:
                if announce:
                    print(f"evaluating on {executor.description}")
                    announce_cost(evaluator, space, budget - done, workers)
                runner = SearchRunner(
                    space,
                    strategy,
                    predictor,
                    reward,
                    record,
                    executor,
                    batch_size=batch_size,
                    progress=progress,
                )
                report = runner.run(budget)
        elif announce and done > budget:
            print(
                f"the record already holds {done} candidates (more than the budget); "
                "all of them count"
            )
        return SearchOutcome(
            report=report,
            history=record.history(),
            batches=record.batch_stats(),
            config=config,
            record_path=str(record.path),
        )


def announce_cost(
    evaluator: AccuracyEvaluator, space: Space, candidates: int, workers: int
) -> tuple[float, float] | None:
    """Print how long ``candidates`` evaluations are expected to take when the evaluator can
    say (proxy training: timed now on three sampled networks); returns the (low, high) total
    seconds, or None."""
    from lutnas.spaces.sampling import sample_archs

    span = evaluator.seconds_per_candidate(sample_archs(space, 3, seed=0))
    if span is None:
        return None
    parallel = max(1, workers)
    low, high = (s * candidates / parallel for s in span)
    print(
        f"{evaluator.name}: about {span[0]:.0f}-{span[1]:.0f} s per candidate on this machine "
        f"now, so up to {_duration(low)}-{_duration(high)} for {candidates} candidates on "
        f"{parallel} worker(s)"
    )
    if high > 600:
        print("  a first look in minutes: --evaluator zero-cost (not an accuracy; see --help)")
    return low, high


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
