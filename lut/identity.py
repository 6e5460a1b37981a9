"""A LUT's identity fields that files written before them lack, and their defaults.

A backend configuration (``meta.backend_config``) names everything that changes the numbers;
two LUTs are resumed into or merged only when their configurations are equal. Fields added
later are given the value every older file was measured with when a file is read, so an old
file compares equal to a new run of the same configuration: ``precision`` (added with int8 and
fp16 LUTs; every earlier LUT is fp32).
"""

from __future__ import annotations

DEFAULTS = {"precision": "fp32"}


def with_identity_defaults(config: dict) -> dict:
    """``config`` with the defaults of the identity fields it lacks (a new dict)."""
    return {**DEFAULTS, **config}
