"""What the interruption tests look for in an export cache after a run was stopped."""

from __future__ import annotations

from pathlib import Path


def half_written(cache: Path) -> list[str]:
    """Files in an export cache that are neither a model file nor its recorded hash: what a
    writer stopped mid-export would leave under a temporary name."""
    return [
        p.name
        for p in cache.iterdir()
        if not p.name.endswith((".onnx", ".onnx.sha256", ".tflite", ".tflite.sha256"))
    ]
