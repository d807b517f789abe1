"""Controllers: policies that propose HNAS architectures (paper Sec. II-B) and their REINFORCE update.

``build_controller("hierarchical_lstm")`` gives the paper's hierarchical LSTM controller (trained
by REINFORCE, :class:`~hnas.controllers.reinforce.Reinforce`), ``build_controller("random")`` the
uniform baseline, ``build_controller("evolution")`` regularized evolution. Each returns a
:class:`~hnas.controllers.base.Sample` from ``sample()`` that unpacks as
``genotype, log_prob, entropy``, and takes the reward of a sample with ``learn(sample, reward)``.
Register a new controller with ``@CONTROLLERS.register("name")`` on a
:class:`~hnas.controllers.base.Controller` subclass whose constructor takes the space
(:class:`~hnas.spaces.codec.SpaceCodec`) first and its own params by keyword.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hnas.controllers import lstm as lstm  # noqa: F401  (registers hierarchical_lstm)
from hnas.controllers import random as random  # noqa: F401  (registers random)
from hnas.controllers import evolution as evolution  # noqa: F401  (registers evolution)
from hnas.controllers.base import Controller, Decision, PartStats, Sample, Slot
from hnas.controllers.evolution import EvolutionController
from hnas.controllers.lstm import HierarchicalLSTMController
from hnas.controllers.random import RandomController
from hnas.controllers.reinforce import Reinforce
from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING
from hnas.registry import CONTROLLERS
from hnas.spaces.codec import SpaceCodec


def build_controller(
    name: str = "hierarchical_lstm",
    normal_ops: Sequence[str] | None = None,
    upsampling_ops: Sequence[str] | None = None,
    nodes: int = 4,
    layers: int = 12,
    **hyperparams: Any,
) -> Controller:
    """The registered controller ``name`` over the given ops (default: the paper's Table I ops);
    an unknown name raises the registry's :class:`~hnas.errors.UnknownNameError`."""
    cls = CONTROLLERS.get(name)
    codec = SpaceCodec(TABLE_I_NORMAL if normal_ops is None else normal_ops,
                       TABLE_I_UPSAMPLING if upsampling_ops is None else upsampling_ops, nodes, layers)
    return cls(codec, **hyperparams)  # type: ignore[no-any-return]


__all__ = [
    "Controller",
    "Decision",
    "EvolutionController",
    "HierarchicalLSTMController",
    "PartStats",
    "RandomController",
    "Reinforce",
    "Sample",
    "Slot",
    "build_controller",
]
