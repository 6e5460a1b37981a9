"""One thread for the libraries the search's main process uses, so its small per-batch work is
not slowed by thread synchronisation."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def single_threaded_libraries() -> Iterator[None]:
    """Run torch and XGBoost at one thread each, then restore their settings.

    The main process's own work per batch is tiny: the PPO controller's LSTM on a few
    sequences, and XGBoost predictions for a handful of networks (the predictor calls its layer
    estimator once per new network segment). Threads only add synchronisation there: on a busy
    2-core machine a PPO update and a cold ``predict_many`` were many times slower at the
    default thread counts than at one. Libraries not yet imported are left alone.
    """
    with contextlib.ExitStack() as stack:
        torch = sys.modules.get("torch")
        if torch is not None:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, before)
        xgb = sys.modules.get("xgboost")
        if xgb is not None:
            stack.enter_context(xgb.config_context(nthread=1))
        yield
