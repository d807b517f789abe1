"""Random numbers as pure functions of ``(seed, what, step...)``; library code never reseeds torch's
or Python's global generators.

A resumed run must draw exactly what the uninterrupted run drew, whatever happened before the
kill, and every process of a multi-process run must draw the same architecture. Deriving a fresh
generator from the run's seed and the coordinates of the draw gives both with nothing to save.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def derive_seed(seed: int, *salt: int | str) -> int:
    """A 63-bit seed from ``seed`` and a salt such as ``("w", epoch, step)`` (stable across runs)."""
    text = "/".join(str(part) for part in (seed, *salt))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def torch_generator(seed: int, *salt: int | str, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator seeded from ``(seed, *salt)``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed, *salt))
    return generator


def numpy_generator(seed: int, *salt: int | str) -> np.random.Generator:
    """A NumPy generator seeded from ``(seed, *salt)``."""
    return np.random.default_rng(derive_seed(seed, *salt))
