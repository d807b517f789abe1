"""hnas networks in the places where SR models already live.

* :mod:`hnas.integrations.basicsr`: ``network_g: {type: HNASNet, ...}`` in a BasicSR options file,
  and conversions between hnas model files and BasicSR ``{'params': ...}`` checkpoints.
* :mod:`hnas.integrations.spandrel`: spandrel (ComfyUI, chaiNNer, ...) detects and loads an hnas
  weights file by its tensors alone.

Both toolboxes feed images in 0..1, hnas networks take 0..255: :class:`UnitRangeHNASNet` is the
same network (same weights, same state-dict keys) on 0..1 images. Nothing here imports BasicSR or
spandrel until the submodule for it is imported.
"""

from __future__ import annotations

from hnas.integrations.unit_range import UnitRangeHNASNet

__all__ = ["UnitRangeHNASNet"]
