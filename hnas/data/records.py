"""What a data source lists (:class:`ImageRecord`) and how one is written in a spec (:class:`SourceSpec`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnas.nodes import Node

BUILTIN_PREFIX = "builtin:"
#: The benchmark sets that ship inside the package (see ``builtin/README.md`` there).
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class ImageRecord:
    """One HR image file, and the folder of pre-made LR images if its data set ships them.

    ``lr_root`` is DIV2K's ``*_LR_bicubic`` folder, holding ``X{s}/{stem}x{s}.png``; without it
    (or without the file for a scale) LR images are made by MATLAB-compatible downscaling.
    """

    path: Path
    lr_root: Path | None = None

    @property
    def name(self) -> str:
        """The file name (``baby.png``): how reports and ``--save`` name this image."""
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem

    def premade_lr(self, scale: int) -> Path | None:
        """The shipped LR file for ``scale`` if there is one."""
        if self.lr_root is None:
            return None
        for suffix in (self.path.suffix, ".png"):
            candidate = self.lr_root / f"X{scale}" / f"{self.stem}x{scale}{suffix}"
            if candidate.is_file():
                return candidate
        return None


#: A data source as a config node, ``{type = "div2k", params = {path = "/data/DIV2K"}}``: the one node
#: model, :class:`hnas.nodes.Node` (unknown keys are rejected, so ``{type = "folder", path = "..."}``,
#: params not nested, is an error that names ``path``).
SourceSpec = Node


#: Every form a data source may be written in.
Source = str | Path | SourceSpec | Mapping[str, Any]
