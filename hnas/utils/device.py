"""Device selection: ``auto`` picks CUDA when present, else CPU; nothing hard-codes ``.cuda()``."""

from __future__ import annotations

import torch

from hnas.errors import HnasError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> cuda if available else cpu; otherwise validate the name torch accepts."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise HnasError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HnasError(f"device '{name}' asked for, but CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise HnasError(f"device '{name}' does not exist: {torch.cuda.device_count()} CUDA device(s)")
    return device
