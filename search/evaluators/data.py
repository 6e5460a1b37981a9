"""Small image datasets for proxy training, as tensors: nothing is downloaded.

- ``digits``: scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes),
  upsampled to the proxy resolution and repeated to 3 channels.
- ``folder:PATH``: an image folder on disk (one sub-folder per class; torchvision ImageFolder).
- ``cifar10:PATH``: torchvision's CIFAR-10 already on disk under PATH (``download=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lutnas.errors import LutnasError


@dataclass(frozen=True, kw_only=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int


def _split(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    val_share: float,
    seed: int,
    limit: int | None,
) -> Split:
    order = np.random.default_rng(seed).permutation(len(y))
    if limit:
        order = order[:limit]
    n_val = max(1, int(len(order) * val_share))
    val, train = order[:n_val], order[n_val:]
    return Split(
        x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val], num_classes=num_classes
    )


def _resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)


def load_dataset(
    spec: str, resolution: int, seed: int = 0, val_share: float = 0.3, limit: int | None = None
) -> Split:
    """Load ``spec`` (see module docstring) at ``resolution``, split train/val (seeded)."""
    kind, _, path = spec.partition(":")
    if kind == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
        x = _resize((x - 0.5) / 0.5, resolution).repeat(1, 3, 1, 1)
        return _split(x, torch.tensor(d.target), 10, val_share, seed, limit)
    if kind in ("folder", "cifar10"):
        import torchvision
        from torchvision import transforms

        if not path or not Path(path).exists():
            raise LutnasError(
                f"dataset {spec!r}: {path!r} does not exist; give an existing "
                "directory (nothing is downloaded)"
            )
        tf = transforms.Compose(
            [
                transforms.Resize((resolution, resolution)),
                transforms.ToTensor(),
                transforms.Normalize([0.5] * 3, [0.5] * 3),
            ]
        )
        try:
            if kind == "folder":
                ds = torchvision.datasets.ImageFolder(path, transform=tf)
                classes = len(ds.classes)
            else:
                ds = torchvision.datasets.CIFAR10(path, train=True, download=False, transform=tf)
                classes = 10
        except (RuntimeError, FileNotFoundError) as exc:
            raise LutnasError(f"dataset {spec!r} could not be read: {exc}") from None
        n = min(len(ds), limit or len(ds))
        idx = np.random.default_rng(seed).permutation(len(ds))[:n]
        xs, ys = zip(*(ds[int(i)] for i in idx), strict=True)
        x = torch.stack([t.expand(3, -1, -1) for t in xs])
        return _split(x, torch.tensor(ys), classes, val_share, seed, None)
    raise LutnasError(f"unknown dataset {spec!r}; use digits, folder:PATH or cifar10:PATH")
