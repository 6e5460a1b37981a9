"""The MnasNet controller: an LSTM policy over the token sequence, trained with PPO.

The policy emits one token per decision. At step ``i`` an LSTM cell reads the embedding of the
previous token (decision ``i-1`` has its own embedding table; step 0 reads a learned start
vector) and a per-decision linear head sized to ``choices[i]`` gives that decision's softmax.
The heads start at zero, so the first batch is sampled uniformly (the same as random search).

Training loop on ask/tell (Tan et al. 2019 use PPO with a moving-average baseline):

- ``ask`` samples a sequence from the current policy and remembers its log-probability.
- ``tell`` adds (tokens, reward) to the current batch. When the batch holds ``batch_size``
  rewards, the policy is updated and the batch cleared:
  advantage = reward − baseline (the baseline is the moving average of previous batches'
  mean rewards, initialised with the first batch's mean), divided by the batch's reward
  standard deviation when ``normalize_advantages``; then ``epochs`` full-batch Adam steps on
  the clipped surrogate ``−mean(min(r·A, clip(r, 1 ± clip_eps)·A)) − entropy_coef · mean(H)``,
  where ``r`` is the ratio of new to sampling-time sequence probability and ``H`` the summed
  per-decision entropy of the policy along the sequence. Finally
  ``baseline ← baseline_decay · baseline + (1 − baseline_decay) · mean(batch rewards)``.

Candidates told without a matching ask (or whose ask was forgotten, see ``MAX_PENDING``) are
treated as samples of the policy at tell time.

The policy's tensors are tiny (a few sequences of 64 wide), so intra-op threads only add
synchronisation: an update was many times slower at 2 torch threads than at 1 on a busy
2-core machine. The controller's torch work (construction, ask,
tell, loading a state) runs at one thread, and the caller's thread count is restored after
each call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lutnas.errors import LutnasError
from lutnas.numbers import flag, real, whole
from search.strategies._rng import make_rng, rng_state, set_rng_state
from search.strategies._tensor_json import (
    encode_module,
    encode_optimizer_state,
    load_module,
    load_optimizer_state,
)
from search.strategies.base import Strategy

# Asked-but-not-told candidates remembered for their sampling log-probability; older ones are
# dropped (an evaluation that never reports back must not grow the state without bound).
MAX_PENDING = 1024


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread, then restore the caller's count."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LSTMPolicy(nn.Module):
    """Autoregressive policy over a token sequence with per-decision embeddings and heads."""

    def __init__(self, choices: Sequence[int], hidden_size: int) -> None:
        super().__init__()
        self.choices = tuple(choices)
        self.start = nn.Parameter(torch.zeros(hidden_size))  # input of the first step
        # embeddings[i] embeds the token of decision i, the input of step i + 1
        self.embeddings = nn.ModuleList(nn.Embedding(n, hidden_size) for n in self.choices[:-1])
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in self.choices)
        for head in self.heads:  # uniform initial policy
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def _initial(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(batch, self.cell.hidden_size)
        return self.start.expand(batch, -1), zeros, zeros

    def log_prob_and_entropy(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For a (batch, decisions) long tensor: log-probability of each sequence and the sum of
        the per-decision entropies along it, both of shape (batch,)."""
        x, h, c = self._initial(tokens.shape[0])
        log_prob = torch.zeros(tokens.shape[0])
        entropy = torch.zeros(tokens.shape[0])
        for i, head in enumerate(self.heads):
            h, c = self.cell(x, (h, c))
            log_probs = torch.log_softmax(head(h), dim=-1)
            log_prob = log_prob + log_probs.gather(1, tokens[:, i : i + 1]).squeeze(1)
            entropy = entropy - (log_probs.exp() * log_probs).sum(dim=-1)
            if i + 1 < len(self.heads):
                x = self.embeddings[i](tokens[:, i])
        return log_prob, entropy

    @torch.no_grad()
    def sample(self, rng: np.random.Generator) -> tuple[list[int], float]:
        """Draw one sequence with ``rng`` (inverse CDF per decision); return it and its
        log-probability."""
        x, h, c = self._initial(1)
        tokens: list[int] = []
        log_prob = 0.0
        for i, head in enumerate(self.heads):
            h, c = self.cell(x, (h, c))
            log_probs = torch.log_softmax(head(h), dim=-1)[0]
            cdf = np.cumsum(np.exp(log_probs.numpy().astype(np.float64)))
            token = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            token = min(token, len(cdf) - 1)
            tokens.append(token)
            log_prob += float(log_probs[token])
            if i + 1 < len(self.heads):
                x = self.embeddings[i](torch.tensor([token]))
        return tokens, log_prob


class PPOController(Strategy):
    """MnasNet's RL controller (see the module docstring for the exact update).

    Args:
        choices: number of choices of each decision.
        seed: seeds the initial weights and the sampling generator.
        hidden_size: LSTM width and embedding size.
        batch_size: rewards per policy update.
        epochs: Adam steps on each batch.
        lr: Adam learning rate.
        clip_eps: PPO ratio clip ε.
        entropy_coef: weight of the entropy bonus.
        baseline_decay: moving-average factor of the reward baseline, in [0, 1).
        max_grad_norm: gradient-norm clip per step (0 disables it).
        normalize_advantages: divide advantages by the batch's reward standard deviation.
    """

    name = "rl"  # registered by search.strategies.base, also as ``ppo``

    def __init__(
        self,
        choices: Sequence[int],
        seed: int = 0,
        hidden_size: int = 64,
        batch_size: int = 16,
        epochs: int = 4,
        lr: float = 3e-3,
        clip_eps: float = 0.2,
        entropy_coef: float = 1e-2,
        baseline_decay: float = 0.9,
        max_grad_norm: float = 1.0,
        normalize_advantages: bool = True,
    ) -> None:
        options = _check_options(
            {
                "hidden_size": hidden_size,
                "batch_size": batch_size,
                "epochs": epochs,
                "lr": lr,
                "clip_eps": clip_eps,
                "entropy_coef": entropy_coef,
                "baseline_decay": baseline_decay,
                "max_grad_norm": max_grad_norm,
                "normalize_advantages": normalize_advantages,
            }
        )
        super().__init__(choices, seed, options)
        self._opt = options
        # seeded init without touching the global RNG
        with one_torch_thread(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._policy = LSTMPolicy(self.choices, options["hidden_size"])
        self._optimizer = torch.optim.Adam(self._policy.parameters(), lr=options["lr"])
        self._rng = make_rng(self.seed)
        self._pending: list[tuple[list[int], float]] = []  # (tokens, sampling log-prob)
        self._batch: list[tuple[list[int], float, float]] = []  # (tokens, reward, old log-prob)
        self._baseline: float | None = None
        self._update_stats: list[dict[str, float]] = []

    @property
    def baseline(self) -> float | None:
        """The moving-average reward baseline; None before the first update."""
        return self._baseline

    @property
    def num_updates(self) -> int:
        return len(self._update_stats)

    @property
    def update_stats(self) -> list[dict[str, float]]:
        """One dict per update: ``mean_reward`` of its batch, ``baseline`` after it, ``entropy``
        (mean summed entropy of the batch's sequences before the update), ``approx_kl_start``
        (mean of sampling minus current log-probability before the update: about 0 when every
        sample came from the current policy, away from 0 when late tells were sampled by an
        older one) and the final ``loss``."""
        return [dict(s) for s in self._update_stats]

    def ask(self) -> list[int]:
        with one_torch_thread():
            tokens, log_prob = self._policy.sample(self._rng)
        self._pending.append((list(tokens), log_prob))
        del self._pending[:-MAX_PENDING]
        return tokens

    def tell(self, tokens: Sequence[int], reward: float) -> None:
        valid = self.check_tokens(tokens)
        value = self.check_reward(reward)
        with one_torch_thread():
            self._batch.append((valid, value, self._sampling_log_prob(valid)))
            if len(self._batch) >= self._opt["batch_size"]:
                self._update()
                self._batch = []

    def _sampling_log_prob(self, tokens: list[int]) -> float:
        """Log-probability under the policy that sampled ``tokens`` (oldest matching pending
        ask, consumed), or under the current policy if they were not asked."""
        for index, (pending_tokens, log_prob) in enumerate(self._pending):
            if pending_tokens == tokens:
                del self._pending[index]
                return log_prob
        with torch.no_grad():
            return float(self._policy.log_prob_and_entropy(torch.tensor([tokens]))[0][0])

    def _update(self) -> None:
        tokens = torch.tensor([t for t, _, _ in self._batch], dtype=torch.long)
        rewards = np.array([r for _, r, _ in self._batch], dtype=np.float64)
        old_log_prob = torch.tensor([lp for _, _, lp in self._batch], dtype=torch.float32)
        mean_reward = float(rewards.mean())
        baseline = mean_reward if self._baseline is None else self._baseline
        advantages = rewards - baseline
        spread = float(rewards.std())
        if self._opt["normalize_advantages"] and spread > 1e-8:
            advantages = advantages / spread
        adv = torch.tensor(advantages, dtype=torch.float32)
        eps = self._opt["clip_eps"]
        entropy_before = loss_value = approx_kl_start = 0.0
        for epoch in range(self._opt["epochs"]):
            log_prob, entropy = self._policy.log_prob_and_entropy(tokens)
            ratio = torch.exp(log_prob - old_log_prob)
            surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - eps, 1 + eps) * adv)
            loss = -surrogate.mean() - self._opt["entropy_coef"] * entropy.mean()
            self._optimizer.zero_grad()
            loss.backward()
            if self._opt["max_grad_norm"] > 0:
                nn.utils.clip_grad_norm_(self._policy.parameters(), self._opt["max_grad_norm"])
            self._optimizer.step()
            if epoch == 0:
                entropy_before = float(entropy.detach().mean())
                approx_kl_start = float((old_log_prob - log_prob.detach()).mean())
            loss_value = float(loss.detach())
        decay = self._opt["baseline_decay"]
        self._baseline = decay * baseline + (1 - decay) * mean_reward
        self._update_stats.append(
            {
                "mean_reward": mean_reward,
                "baseline": self._baseline,
                "entropy": entropy_before,
                "approx_kl_start": approx_kl_start,
                "loss": loss_value,
            }
        )

    def _state(self) -> dict[str, Any]:
        return {
            "policy": encode_module(self._policy),
            "optimizer": encode_optimizer_state(self._optimizer),
            "rng": rng_state(self._rng),
            "pending": [[list(t), lp] for t, lp in self._pending],
            "batch": [[list(t), r, lp] for t, r, lp in self._batch],
            "baseline": self._baseline,
            "update_stats": [dict(s) for s in self._update_stats],
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        pending = [(self.check_tokens(t), float(lp)) for t, lp in state["pending"]]
        batch = [(self.check_tokens(t), float(r), float(lp)) for t, r, lp in state["batch"]]
        baseline = None if state["baseline"] is None else float(state["baseline"])
        stats = [{k: float(v) for k, v in s.items()} for s in state["update_stats"]]
        try:
            with one_torch_thread():
                load_module(self._policy, state["policy"])
                load_optimizer_state(self._optimizer, state["optimizer"])
        except RuntimeError as err:  # shape or name mismatch from torch
            raise LutnasError(f"saved controller weights do not fit: {err}") from err
        set_rng_state(self._rng, state["rng"])
        self._pending, self._batch = pending, batch
        self._baseline, self._update_stats = baseline, stats


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options, each of its kind and in its range (lutnas.numbers).

    Raises:
        LutnasError: naming the first option out of range.
    """
    try:
        return _checked(options)
    except LutnasError as exc:
        raise LutnasError(f"bad PPO controller option: {exc}") from None


def _checked(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "hidden_size": whole(options["hidden_size"], "hidden_size", 1, 4096),
        "batch_size": whole(options["batch_size"], "batch_size", 1, 100_000),
        "epochs": whole(options["epochs"], "epochs", 1, 1000),
        "lr": real(options["lr"], "lr", 0, 10, above=True),
        "clip_eps": real(options["clip_eps"], "clip_eps", 0, 10, above=True),
        "entropy_coef": real(options["entropy_coef"], "entropy_coef", 0, 10),
        "baseline_decay": _below_one(options["baseline_decay"]),
        "max_grad_norm": real(options["max_grad_norm"], "max_grad_norm", 0, 1e6),
        "normalize_advantages": flag(options["normalize_advantages"], "normalize_advantages"),
    }


def _below_one(value: object) -> float:
    decay = real(value, "baseline_decay", 0, 1)
    if decay == 1:
        raise LutnasError("baseline_decay must be a number from 0 to below 1, got 1")
    return decay
