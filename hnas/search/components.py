"""Everything a spec names, built through its registry: ops, cells, controller, reward, cost.

:func:`build_components` is the one place a spec's nodes become objects. ``hnas run`` calls it
(through :func:`hnas.search.spec_loader.check_spec`) before the run folder exists, so a wrong name or
param is one line and nothing is written; the search then uses the same objects.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hnas.controllers.base import Controller
from hnas.costs import Cost, CostSettings, get_cost
from hnas.errors import SpecError
from hnas.nodes import Node, build, call, check_params
from hnas.registry import CELLS, CONTROLLERS, COSTS, NORMAL_OPS, REWARDS, STRATEGIES, UPSAMPLING_OPS
from hnas.rewards.base import Reward
from hnas.search.spec import Spec
from hnas.spaces.codec import SpaceCodec

if TYPE_CHECKING:
    from hnas.strategies.base import Strategy

#: Arguments the network passes to every op itself; a spec cannot set them.
OP_ARGUMENTS = ("channels", "scale", "search")


@dataclass
class Components:
    """The built pieces of a search: op lists and settings, cell types, cost, reward, controller."""

    normal_ops: list[str]
    upsampling_ops: list[str]
    op_params: dict[str, dict[str, dict[str, Any]]]
    normal_cell: str
    upsampling_cell: str
    cost: Cost
    cost_settings: CostSettings
    reward: Reward

    def new_controller(self, spec: Spec) -> Controller:
        """A fresh controller of the spec's type over this space."""
        return controller_of_spec(spec, self.normal_ops, self.upsampling_ops)


def controller_of_spec(spec: Spec, normal_ops: list[str], upsampling_ops: list[str]) -> Controller:
    """The spec's controller over these ops, proposing genotypes with the space's cell types."""
    node = Node(type=spec.controller.type, params=spec.controller.params).canonical(CONTROLLERS)
    cls = CONTROLLERS.get(node.type)
    # a strategy's own draws (evolution's initial population) follow the run's seed, so that
    # searches with different seeds are independent; an explicit params.seed still wins
    seeded = "seed" not in node.params and "seed" in inspect.signature(cls).parameters
    codec = SpaceCodec(normal_ops, upsampling_ops, spec.space.nodes, spec.space.layers,
                       cell_types=spec.space.cell_types(), op_params=spec.space.op_params())
    controller = build(CONTROLLERS, node, codec, what="controller", provided=("codec",),
                       extra={"seed": spec.seed} if seeded else None)
    if not isinstance(controller, Controller):
        raise SpecError(f"controller '{node.type}' did not build a hnas.controllers.Controller")
    return controller


def build_strategy(spec: Spec, components: Components) -> Strategy:
    """The spec's ``[strategy]`` over the space, drawing within its cost band (its pool is drawn
    here, so a band the space cannot reach is one line before anything is written)."""
    from hnas.strategies.base import Proposer, Strategy

    assert spec.strategy is not None
    node = Node(type=spec.strategy.type, params=spec.strategy.params).canonical(STRATEGIES)
    if spec.strategy.band_by == "cost":  # the band in the spec's own price (e.g. predicted ms)
        cost, unit = components.cost, getattr(components.cost, "unit", "") or spec.cost.type
    else:
        cost, unit = get_cost("macs"), "MACs"
    proposer = Proposer(components.new_controller(spec), lambda g: float(cost(g, components.cost_settings)),
                        spec.strategy.band, spec.seed, unit)
    strategy = build(STRATEGIES, node, proposer, spec.strategy.budget_steps, what="strategy",
                     provided=("proposer", "budget_steps"))
    if not isinstance(strategy, Strategy):
        raise SpecError(f"strategy '{node.type}' did not build a hnas.strategies.Strategy")
    return strategy


def build_components(spec: Spec) -> Components:
    """Build (and so validate) every component the spec names."""
    space = spec.space
    for kind, nodes, registry in (("normal op", space.normal_ops, NORMAL_OPS),
                                  ("upsampling op", space.upsampling_ops, UPSAMPLING_OPS)):
        for node in nodes or []:
            node = node.canonical(registry)
            check_params(registry.get(node.type), dict(node.params), f"{kind} '{node.type}'", provided=OP_ARGUMENTS)
    normal_ops, upsampling_ops = space.resolved_normal_ops(), space.resolved_upsampling_ops()
    for field, slot in (("normal_cell", "normal"), ("upsampling_cell", "upsampling")):
        cell: Node = getattr(space, field).canonical(CELLS)
        if cell.params:
            raise SpecError(f"space.{field}: cell types take no params; register a subclass with the settings built in")
        kind = getattr(CELLS.get(cell.type), "kind", None)
        if kind != slot:
            raise SpecError(f"space.{field}: cell '{cell.type}' is a {kind or 'untyped'} cell, not a {slot} cell")
    normal_cell, upsampling_cell = space.cell_types()
    op_params = space.op_params()

    cost_node = Node(type=spec.cost.type, params=spec.cost.params).canonical(COSTS)
    label = f"cost '{cost_node.type}'"
    params = check_params(COSTS.get(cost_node.type), dict(cost_node.params), label)
    cost = call(label, get_cost, cost_node.type, **params)
    settings = call("cost", CostSettings.make, input=spec.cost.input, scale=space.scale, channels=space.channels,
                     global_skip=space.global_skip, op_params=op_params)
    call("cost", cost.check, settings)

    reward: Reward = build(REWARDS, Node(type=spec.reward.type, params=spec.reward.resolved_params()), what="reward")
    reward = reward.bind(cost, settings)

    components = Components(normal_ops, upsampling_ops, op_params, normal_cell, upsampling_cell, cost, settings,
                            reward)
    components.new_controller(spec)  # builds once: a bad controller param fails here
    _check_ops_build(components, space.channels, space.scale)
    return components


def _check_ops_build(components: Components, channels: int, scale: int) -> None:
    """Build each op once with its params on the meta device (a value it rejects is one line)."""
    import torch

    with torch.device("meta"):
        for op in components.normal_ops:
            params = components.op_params.get("normal", {}).get(op, {})
            call(f"normal op '{op}'", NORMAL_OPS.build, op, channels, search=True, **params)
        for op in components.upsampling_ops:
            params = components.op_params.get("upsampling", {}).get(op, {})
            for edge_scale in (scale, 1):
                call(f"upsampling op '{op}'", UPSAMPLING_OPS.build, op, channels, edge_scale, search=True, **params)
