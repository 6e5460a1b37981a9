"""The built-in spaces as shipped files: the same layer keys, token orders, counts and named
architectures as the Python definitions they replaced (the stored fingerprint was written from
those definitions before the conversion; see ``tests/space_fingerprint.py``)."""

from __future__ import annotations

import json

import pytest
from space_fingerprint import BUILTIN_SPACES, STORED, fingerprint, named_fingerprint


@pytest.fixture(scope="module")
def stored() -> dict:
    return json.loads(STORED.read_text())


@pytest.mark.parametrize("name", BUILTIN_SPACES)
def test_a_builtin_space_is_byte_identical_to_its_python_definition(name, stored):
    now = fingerprint(name)
    before = stored["spaces"][name]
    for key in before:  # one assertion per part, so a failure names what changed
        assert now[key] == before[key], f"{name}: {key} changed"
    assert now == before


def test_the_named_architectures_are_unchanged(stored):
    now = named_fingerprint()
    for name in stored["named"]:
        assert now[name] == stored["named"][name], f"named architecture {name} changed"
