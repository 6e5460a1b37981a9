"""The rows a search record holds: evaluations of distinct architectures, told candidates
(history), batch timings, and where a search resumes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """One distinct architecture's evaluation (accuracy None when it failed)."""

    arch_key: str
    arch_json: str
    accuracy: float | None
    error: str | None
    latency_ms: float
    seconds: float
    worker: str
    batch: int


@dataclass(frozen=True, kw_only=True)
class HistoryRow:
    """One told candidate. ``reused``: its accuracy came from an earlier row's evaluation."""

    seq: int
    batch: int
    position: int
    tokens: tuple[int, ...]
    arch_key: str
    arch_json: str
    accuracy: float | None
    latency_ms: float
    reward: float
    reused: bool


@dataclass(frozen=True, kw_only=True)
class BatchStats:
    """Timing of one complete batch, in seconds of wall time."""

    size: int
    fresh: int  # evaluations run in this batch (not taken from the record)
    seconds: float
    eval_seconds: float
    predict_seconds: float


@dataclass(frozen=True)
class ResumePoint:
    """Where a search continues: complete batches and tells so far, the strategy state after
    the last complete batch (None before the first), and the batch in flight when it stopped."""

    batches: int
    tells: int
    strategy_state: dict | None
    pending_tokens: list[list[int]] | None
