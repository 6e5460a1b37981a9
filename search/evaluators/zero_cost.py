"""A training-free proxy: how differently the untrained network's ReLUs fire on different
inputs (NASWOT, Mellor et al. 2021), normalised into (0, 1].

For a batch of N inputs, each input's binary code is which ReLU units are active. The kernel
K_ij = (agreements between codes i and j) / units has a unit diagonal and is positive
semi-definite, so its log-determinant is ≤ 0; the score is exp(logdet(K) / N), the geometric
mean eigenvalue: 1 when the codes are orthogonal, near 0 when inputs look alike to the network.
It is a ranking heuristic, **not an accuracy**, and the search labels it so.

A unit is a ReLU's or a ReLU6's output (ProxylessNAS's spaces use ReLU6; both are active where
their input is positive). A network whose layers use neither (all h-swish or SiLU, as a space
file may give; the ReLU inside SE aside) is coded by every activation's output instead, which is
positive exactly where a ReLU's would be.
"""

from __future__ import annotations

import dataclasses

import torch

from lut.activations import ACT_FORMS
from lutnas.numbers import seed as checked_seed
from lutnas.numbers import whole
from lutnas.spaces.arch import Arch
from search.evaluators.base import MAX_BATCH, AccuracyEvaluator, dataset_name, proxy_resolution
from search.evaluators.data import load_dataset

_RELUS = (torch.nn.ReLU, torch.nn.ReLU6)
_ACTIVATIONS = tuple(forms.module for forms in ACT_FORMS.values())


class ZeroCostEvaluator(AccuracyEvaluator):
    name = "zero-cost"
    is_proxy = True

    def __init__(
        self, dataset: str = "digits", resolution: int = 32, batch: int = 32, seed: int = 0
    ) -> None:
        self.dataset = dataset_name(dataset)
        self.resolution = proxy_resolution(resolution)
        self.batch = whole(batch, "batch", 2, MAX_BATCH)  # one input has no kernel to score
        self.seed = checked_seed(seed)
        self._x: torch.Tensor | None = None

    def identity(self) -> dict:
        return {
            "evaluator": self.name,
            "dataset": self.dataset,
            "resolution": self.resolution,
            "batch": self.batch,
            "seed": self.seed,
        }

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_x": None}

    def evaluate(self, arch: Arch) -> float:
        if self._x is None:
            self._x = load_dataset(self.dataset, self.resolution, self.seed).x_train[: self.batch]
        torch.manual_seed(self.seed)
        net = dataclasses.replace(arch, resolution=self.resolution).build(num_classes=10)
        relu_net = any(s.act in ("relu", "relu6") for s in arch.layers() if s.op != "fc")
        units = _RELUS if relu_net else _ACTIVATIONS  # (fc applies no activation)
        codes = self._codes(net, [m for m in net.modules() if type(m) in units])
        c = torch.cat(codes, 1).double()
        units = c.shape[1]
        k = (c @ c.T + (1 - c) @ (1 - c).T) / units
        sign, logdet = torch.linalg.slogdet(k)
        if sign <= 0:
            return 0.0
        return float(torch.exp(logdet / len(k)).clamp(0.0, 1.0))

    def _codes(self, net: torch.nn.Module, modules: list) -> list[torch.Tensor]:
        """Which outputs of ``modules`` are positive, per input of the batch."""
        codes: list[torch.Tensor] = []

        def hook(_module, _inp, out):
            codes.append((out.detach() > 0).flatten(1).float())

        handles = [m.register_forward_hook(hook) for m in modules]
        net.train()  # batch statistics, as the method prescribes
        with torch.no_grad():
            net(self._x)
        for h in handles:
            h.remove()
        return codes
