"""The search loop: ask a batch, predict its latency, evaluate its accuracy in parallel, reward,
tell in ask order, record.

One batch, in order:

1. ``batch_size`` asks (the last batch is cut to the budget); their tokens are recorded as the
   batch in flight;
2. one ``predict_many`` call gives every candidate's latency in ms (no device involved);
3. accuracies already in the record are reused; the other distinct architectures are evaluated
   by the executor (:mod:`search.parallel`), each committed to the record as it finishes;
4. R = ACC · (LAT/T)^w (:mod:`search.reward`); a failed evaluation scores 0 and is logged;
5. tells in ask order, whatever order the evaluations finished in, so the search does not
   depend on the number of workers or their speed;
6. the batch's history rows and the strategy state are committed in one transaction.

The budget counts told candidates (history rows), duplicates included: every strategy gets the
same number of samples. Resuming (same record) restores the last complete batch's strategy
state, asks again, and evaluates only what the record does not hold.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from lutnas.errors import LutnasError
from lutnas.spaces.arch import Arch
from lutnas.spaces.space import Space
from search.latency_model import LatencyModel
from search.parallel import EvalExecutor
from search.record import BatchStats, Evaluation, HistoryRow, SearchRecord
from search.reward import MnasReward
from search.strategies.base import Strategy
from search.threads import single_threaded_libraries

log = logging.getLogger(__name__)


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one call of :meth:`SearchRunner.run` did (times in seconds of wall time)."""

    tells: int = 0  # told candidates in the record after the run
    tells_this_run: int = 0
    fresh_evaluations: int = 0  # evaluations run by this call
    failed_evaluations: int = 0
    reused: int = 0  # candidates of this run whose accuracy was already known
    seconds: float = 0.0
    eval_seconds: float = 0.0
    predict_seconds: float = 0.0
    best: HistoryRow | None = None
    batches: list[BatchStats] = field(default_factory=list)

    @property
    def candidates_per_second(self) -> float:
        return self.tells_this_run / self.seconds if self.seconds > 0 else math.nan


class SearchRunner:
    """Runs a strategy against a record until the budget is told (see the module docstring).

    Args:
        space: the search space (tokens are decoded with it).
        strategy: a fresh strategy built with the record's options and seed.
        predictor: a :class:`LatencyModel` (a ``LatencyPredictor``); the loop calls only
            ``predict_many(archs) -> ms``.
        reward: the MnasNet reward (T, α, β).
        record: the open record; its configuration must be this one's (see
            :func:`search.session.search_config`).
        executor: where accuracy evaluations run.
        batch_size: asks per batch (candidates evaluated in parallel).
        progress: show a progress bar with ETA.
    """

    def __init__(
        self,
        space: Space,
        strategy: Strategy,
        predictor: LatencyModel,
        reward: MnasReward,
        record: SearchRecord,
        executor: EvalExecutor,
        batch_size: int = 8,
        progress: bool = True,
    ) -> None:
        if batch_size < 1:
            raise LutnasError(f"batch size must be at least 1, got {batch_size}")
        if list(strategy.choices) != space.choice_counts():
            raise LutnasError("the strategy was built for another space's choice counts")
        self.space, self.strategy, self.predictor = space, strategy, predictor
        self.reward, self.record, self.executor = reward, record, executor
        self.batch_size, self.progress = batch_size, progress

    def run(self, budget: int) -> RunReport:
        """Tell candidates until the record holds ``budget`` of them (resuming if it has some).

        Raises:
            LutnasError: every fresh evaluation of a batch failed (the first error is quoted;
                nothing of that batch is told, so a rerun retries it), or the predictor
                returned a non-finite or non-positive latency.
        """
        if budget < 1:
            raise LutnasError(f"the budget must be at least 1 candidate, got {budget}")
        start = time.perf_counter()
        point = self.record.resume_point()
        if point.strategy_state is not None:
            self.strategy.load_state_dict(point.strategy_state)
        history = self.record.history()
        seen = {r.arch_key for r in history}
        report = RunReport(tells=point.tells)
        report.best = max(history, key=lambda r: r.reward, default=None)
        pending, batch = point.pending_tokens, point.batches
        with (
            single_threaded_libraries(),
            tqdm(
                total=budget,
                initial=min(point.tells, budget),
                desc="search",
                unit="cand",
                disable=not self.progress,
                dynamic_ncols=True,
            ) as bar,
        ):
            self._postfix(bar, report)
            while report.tells < budget:
                size = min(self.batch_size, budget - report.tells)
                self._run_batch(batch, size, pending, seen, report, bar)
                pending, batch = None, batch + 1
        report.seconds = time.perf_counter() - start
        return report

    def _run_batch(
        self,
        batch: int,
        size: int,
        pending: list[list[int]] | None,
        seen: set[str],
        report: RunReport,
        bar: tqdm,
    ) -> None:
        t_batch = time.perf_counter()
        tokens = [self.strategy.ask() for _ in range(size)]
        if pending is not None and pending[:size] != tokens[: len(pending)]:
            log.warning(
                "batch %d: the restored strategy asked other candidates than before "
                "the interruption; evaluations already recorded are still reused",
                batch,
            )
        self.record.set_pending(batch, tokens)
        archs = [Arch.from_tokens(self.space.name, t) for t in tokens]
        keys = [a.key for a in archs]

        t_predict = time.perf_counter()
        latency_ms = np.asarray(self.predictor.predict_many(archs), dtype=np.float64)
        predict_seconds = time.perf_counter() - t_predict
        if latency_ms.shape != (size,) or not np.all(np.isfinite(latency_ms) & (latency_ms > 0)):
            raise LutnasError(
                f"the predictor returned unusable latencies {latency_ms!r} for "
                f"batch {batch}; check the predictor (lutnas evaluate)"
            )
        lat_of = dict(zip(keys, latency_ms.tolist(), strict=True))

        known = self.record.successful_evaluations(keys)
        accuracy: dict[str, float | None] = {k: e.accuracy for k, e in known.items()}
        bar.update(sum(k in accuracy for k in keys))
        todo = {k: a for k, a in zip(keys, archs, strict=True) if k not in accuracy}
        todo_keys, errors = list(todo), {}
        t_eval = time.perf_counter()
        if todo:
            for outcome in self.executor.map_unordered(list(todo.values())):
                key = todo_keys[outcome.index]
                self.record.put_evaluation(
                    Evaluation(
                        arch_key=key,
                        arch_json=todo[key].to_json(),
                        accuracy=outcome.accuracy,
                        error=outcome.error,
                        latency_ms=lat_of[key],
                        seconds=outcome.seconds,
                        worker=outcome.worker,
                        batch=batch,
                    )
                )
                accuracy[key] = outcome.accuracy
                if outcome.error is not None:
                    errors[key] = outcome.error
                    log.warning("evaluating %s failed (scored 0): %s", key, outcome.error)
                bar.update(keys.count(key))
        eval_seconds = time.perf_counter() - t_eval
        if todo and len(errors) == len(todo):
            raise LutnasError(
                f"all {len(todo)} evaluations of batch {batch} failed; the first: "
                f"{next(iter(errors.values()))}. Fix the evaluator and run the same "
                "command again (finished batches are kept)"
            )

        rows = []
        for position, (tok, arch, key) in enumerate(zip(tokens, archs, keys, strict=True)):
            acc = accuracy[key]
            reward = 0.0 if acc is None else self.reward(acc, lat_of[key])
            self.strategy.tell(tok, reward)
            rows.append(
                HistoryRow(
                    seq=report.tells + position,
                    batch=batch,
                    position=position,
                    tokens=tuple(tok),
                    arch_key=key,
                    arch_json=arch.to_json(),
                    accuracy=acc,
                    latency_ms=lat_of[key],
                    reward=reward,
                    reused=key in seen,
                )
            )
            seen.add(key)
        stats = BatchStats(
            size=size,
            fresh=len(todo),
            seconds=time.perf_counter() - t_batch,
            eval_seconds=eval_seconds,
            predict_seconds=predict_seconds,
        )
        self.record.commit_batch(batch, rows, self.strategy.state_dict(), stats)

        report.tells += size
        report.tells_this_run += size
        report.fresh_evaluations += len(todo)
        report.failed_evaluations += len(errors)
        report.reused += size - len(todo)
        report.eval_seconds += eval_seconds
        report.predict_seconds += predict_seconds
        report.batches.append(stats)
        best = max(rows, key=lambda r: r.reward)
        if report.best is None or best.reward > report.best.reward:
            report.best = best
        self._postfix(bar, report)

    def _postfix(self, bar: tqdm, report: RunReport) -> None:
        if report.best is not None:
            b = report.best
            acc = "failed" if b.accuracy is None else f"{b.accuracy:.3f}"
            bar.set_postfix_str(
                f"best R={b.reward:.4f} (acc {acc}, {b.latency_ms:.2f} ms)", refresh=False
            )
