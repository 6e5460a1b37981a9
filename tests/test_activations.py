"""The one activation table: its names are lut.spec's, and every torch form maps back to them."""

from __future__ import annotations

import torch
import torch.nn.functional as TF

from lut.activations import ACT_FORMS, GATE_FORMS, NAME_OF_FUNCTION, NAME_OF_METHOD, NAME_OF_MODULE
from lut.modules import SqueezeExcite, activation
from lut.spec import ACTS, GATES


def test_the_table_holds_the_spec_names_in_their_order():
    # ACTS' order fixes the predictor's feature columns; the table must not reorder it.
    assert tuple(ACT_FORMS) == ACTS
    assert tuple(GATE_FORMS) == GATES
    assert not set(ACTS) & set(GATES)


def test_reverse_mappings_are_derived_from_the_table():
    forms = {**ACT_FORMS, **GATE_FORMS}
    assert NAME_OF_MODULE == {f.module: n for n, f in forms.items()}
    assert len(NAME_OF_MODULE) == len(forms), "two names share a module class"
    for name, f in forms.items():
        assert all(NAME_OF_FUNCTION[fn] == name for fn in f.functions)
        assert all(NAME_OF_METHOD[m] == name for m in f.methods)
    assert NAME_OF_FUNCTION[TF.relu] == NAME_OF_FUNCTION[torch.relu] == "relu"
    assert NAME_OF_METHOD["sigmoid_"] == "sigmoid"


def test_built_modules_come_from_the_table():
    for name in ACTS:
        module = activation(name)
        assert NAME_OF_MODULE[type(module)] == name and module.inplace
    for hard, gate in ((False, "sigmoid"), (True, "hsigmoid")):
        assert NAME_OF_MODULE[type(SqueezeExcite(16, 0.25, hard_gate=hard).gate)] == gate
