"""Proxy training: a few epochs of real training of the sampled network on a small dataset at a
low resolution (default: scikit-learn's digits at 32×32). Latency is still predicted at the
architecture's own resolution; only the accuracy proxy is measured small."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence

import torch

from lutnas.numbers import real, whole
from lutnas.numbers import seed as checked_seed
from lutnas.spaces.arch import Arch
from search.evaluators.base import MAX_BATCH, AccuracyEvaluator, dataset_name, proxy_resolution
from search.evaluators.data import Split, load_dataset


class ProxyTrainEvaluator(AccuracyEvaluator):
    """Validation accuracy after ``epochs`` of SGD (momentum 0.9, cosine schedule), seeded by
    the arch key so the same arch always gets the same score. One thread per evaluation.
    BatchNorm's statistics are recomputed for the final weights before scoring."""

    name = "proxy-train"

    def __init__(
        self,
        dataset: str = "digits",
        resolution: int = 32,
        epochs: int = 3,
        batch_size: int = 64,
        lr: float = 0.05,
        seed: int = 0,
        limit: int | None = None,
    ) -> None:
        self.dataset = dataset_name(dataset)
        self.resolution = proxy_resolution(resolution)
        self.epochs = whole(epochs, "epochs", 1, 10_000)
        self.batch_size = whole(batch_size, "batch_size", 2, MAX_BATCH)  # BatchNorm needs two
        self.lr = real(lr, "lr", 0, 10, above=True)
        self.seed = checked_seed(seed)
        self.limit = None if limit is None else whole(limit, "limit", 2, 10**9)
        self._data: Split | None = None

    def identity(self) -> dict:
        return {
            "evaluator": self.name,
            "dataset": self.dataset,
            "resolution": self.resolution,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "seed": self.seed,
            "limit": self.limit,
            # scores before 2026-12-02 used training's moving averages: not comparable
            "batchnorm_statistics": "recomputed",
        }

    def __getstate__(self) -> dict:  # ship options, not tensors, to worker processes
        return {**self.__dict__, "_data": None}

    def data(self) -> Split:
        if self._data is None:
            self._data = load_dataset(self.dataset, self.resolution, self.seed, limit=self.limit)
        return self._data

    def evaluate(self, arch: Arch) -> float:
        data = self.data()
        small = dataclasses.replace(arch, resolution=self.resolution)
        digest = hashlib.sha1(f"{arch.key}|{self.seed}".encode()).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(int.from_bytes(digest[8:16], "little"))
            net = small.build(num_classes=data.num_classes)
            return self._train(net, data, gen)
        finally:
            torch.set_num_threads(threads)

    def seconds_per_candidate(self, archs: Sequence[Arch]) -> tuple[float, float]:
        """A timed training step of each of ``archs`` (one thread, after an untimed one),
        scaled to an evaluation's steps plus its forward-only passes (BatchNorm statistics
        and validation, a third of a step per batch each)."""
        data = self.data()
        batches = -(-len(data.y_train) // self.batch_size)
        forward = batches + -(-len(data.y_val) // self.batch_size)
        x, y = data.x_train[: self.batch_size], data.y_train[: self.batch_size]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        seconds = []
        try:
            for arch in archs:
                net = dataclasses.replace(arch, resolution=self.resolution).build(
                    num_classes=data.num_classes
                )
                opt = torch.optim.SGD(net.parameters(), lr=self.lr, momentum=0.9)
                timings = []
                for _ in range(2):
                    start = time.perf_counter()
                    loss = torch.nn.functional.cross_entropy(net(x), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    timings.append(time.perf_counter() - start)
                step = timings[-1]
                seconds.append(step * (self.epochs * batches + forward / 3))
        finally:
            torch.set_num_threads(threads)
        return min(seconds), max(seconds)

    def _train(self, net: torch.nn.Module, data: Split, gen: torch.Generator) -> float:
        steps = self.epochs * -(-len(data.y_train) // self.batch_size)
        opt = torch.optim.SGD(net.parameters(), lr=self.lr, momentum=0.9, weight_decay=4e-5)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(data.y_train), generator=gen)
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                if len(idx) < 2:  # BatchNorm needs two samples
                    continue
                loss = torch.nn.functional.cross_entropy(net(data.x_train[idx]), data.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        _recompute_batchnorm_statistics(net, data.x_train, self.batch_size)
        net.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(data.y_val), 256):
                pred = net(data.x_val[i : i + 256]).argmax(1)
                correct += int((pred == data.y_val[i : i + 256]).sum())
        return correct / len(data.y_val)


def _recompute_batchnorm_statistics(net: torch.nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace BatchNorm's running statistics by the exact ones of the trained weights.

    During training they are a moving average (momentum 0.1) over statistics of weights that
    change at every step. Proxy training takes a few dozen steps on a small set, so at the end
    they still describe earlier networks and the evaluation-mode network scores far below the
    one trained (0.24 against 0.82 on 280 digits after five epochs, and worse at five epochs
    than at three). Once-for-All re-estimates them the same way before scoring a subnet.
    """
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the passes below
    net.train()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                if len(x[i : i + batch_size]) >= 2:  # BatchNorm needs two samples
                    net(x[i : i + batch_size])
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
