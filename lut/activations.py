"""The activation vocabulary's one table: each activation and SE-gate name → its torch forms.

:mod:`lut.spec` owns the names, ``ACTS`` and ``GATES``, without importing torch (their order
fixes the predictor's feature columns). This module gives each name the torch forms that compute
it: the ``nn.Module`` class :mod:`lut.modules` builds, and the functional and ``Tensor``-method
spellings torch.fx records when it traces a network. The reverse mappings (torch form → name)
are derived from the table, never written out. A test checks that the table's names are
``ACTS`` and ``GATES`` in order, so adding an activation is one name in :mod:`lut.spec` and one
row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as TF
from torch import nn


@dataclass(frozen=True)
class TorchForms:
    """How one activation is written in torch.

    Attributes:
        module: the module class, matched by exact type (a subclass may compute something else).
        functions: functional spellings (``F.relu``, ``torch.relu``).
        methods: ``Tensor`` method names (``"relu"`` for ``x.relu()``).
    """

    module: type[nn.Module]
    functions: tuple[Callable[..., torch.Tensor], ...] = ()
    methods: tuple[str, ...] = ()


# Activations after a conv or linear, and inside SE (LayerSpec.act, se_act), in ACTS order.
ACT_FORMS: dict[str, TorchForms] = {
    "relu": TorchForms(nn.ReLU, (TF.relu, torch.relu), ("relu", "relu_")),
    "relu6": TorchForms(nn.ReLU6, (TF.relu6,)),
    "hswish": TorchForms(nn.Hardswish, (TF.hardswish,)),
    "silu": TorchForms(nn.SiLU, (TF.silu,)),
}

# SE gates (LayerSpec.se_gate), in GATES order.
GATE_FORMS: dict[str, TorchForms] = {
    "sigmoid": TorchForms(nn.Sigmoid, (torch.sigmoid, TF.sigmoid), ("sigmoid", "sigmoid_")),
    "hsigmoid": TorchForms(nn.Hardsigmoid, (TF.hardsigmoid,)),
}

_ALL_FORMS: Mapping[str, TorchForms] = {**ACT_FORMS, **GATE_FORMS}

# The reverse mappings, over activations and gates together (their names are distinct).
NAME_OF_MODULE: dict[type[nn.Module], str] = {f.module: n for n, f in _ALL_FORMS.items()}
NAME_OF_FUNCTION: dict[Callable[..., torch.Tensor], str] = {
    fn: n for n, f in _ALL_FORMS.items() for fn in f.functions
}
NAME_OF_METHOD: dict[str, str] = {m: n for n, f in _ALL_FORMS.items() for m in f.methods}
