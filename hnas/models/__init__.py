"""Derived networks and their cells."""

from hnas.models.cells import Cell, NormalCell, UpsamplingCell
from hnas.models.network import DIV2K_RGB_MEAN, HNASNet, build_model

__all__ = ["Cell", "NormalCell", "UpsamplingCell", "HNASNet", "build_model", "DIV2K_RGB_MEAN"]
