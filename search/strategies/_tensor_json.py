"""Exact, pickle-free JSON encoding of torch tensors and module/optimizer states.

A tensor becomes ``{"dtype": "<f4", "shape": [...], "data": base64 of its raw bytes}``, so a
JSON round trip restores every bit (a float list would do too, at 3-4× the size).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def encode_tensor(tensor: torch.Tensor) -> dict[str, Any]:
    array = np.ascontiguousarray(tensor.detach().cpu().numpy())
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode_tensor(item: Mapping[str, Any]) -> torch.Tensor:
    raw = base64.b64decode(item["data"].encode("ascii"))
    array = np.frombuffer(raw, dtype=np.dtype(item["dtype"])).reshape(item["shape"])
    return torch.from_numpy(array.copy())


def encode_module(module: torch.nn.Module) -> dict[str, Any]:
    return {name: encode_tensor(value) for name, value in module.state_dict().items()}


def load_module(module: torch.nn.Module, state: Mapping[str, Any]) -> None:
    """Load weights saved by :func:`encode_module`; names and shapes must match exactly."""
    module.load_state_dict({name: decode_tensor(item) for name, item in state.items()})


def encode_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The per-parameter state (e.g. Adam moments and step); hyper-parameters are not saved,
    they are the strategy's options."""
    out: dict[str, Any] = {}
    for index, param_state in optimizer.state_dict()["state"].items():
        out[str(index)] = {
            key: encode_tensor(value) if isinstance(value, torch.Tensor) else value
            for key, value in param_state.items()
        }
    return out


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    per_param = {
        int(index): {
            key: decode_tensor(value) if isinstance(value, Mapping) else value
            for key, value in param_state.items()
        }
        for index, param_state in state.items()
    }
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})
