"""One node model and one params rule for every registry: ops, costs, rewards, strategies, data."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hnas.data.sources import open_images
from hnas.errors import DataError, SpecError, UnknownNameError
from hnas.nodes import Node, build, check_params
from hnas.registry import COSTS, NORMAL_OPS, REWARDS, Registry


def test_a_node_is_a_bare_name_or_a_type_with_params_and_nothing_else() -> None:
    assert Node.model_validate("rcab") == Node(type="rcab")
    assert Node.model_validate({"type": "rcab", "params": {"reduction": 4}}).params == {"reduction": 4}
    with pytest.raises(ValidationError):
        Node.model_validate({"type": "folder", "path": "/data"})  # params not nested
    with pytest.raises(ValidationError):
        Node(type="")
    assert Node(type="identity").canonical(NORMAL_OPS) == Node(type="skip_connect")


def factory(channels: int, reduction: int = 16, *, gate: float = 1.0, **rest: Any) -> tuple[int, int, float]:
    return channels, reduction, gate


def test_one_rule_names_the_key_and_what_the_node_takes() -> None:
    with pytest.raises(SpecError, match=r"^op 'x' has no param 'reducton' \(did you mean 'reduction'\?\); "
                                        r"it takes reduction, gate$"):
        check_params(factory, {"reducton": 4}, "op 'x'", provided=("channels",))
    # a **kwargs catch-all is no invitation: it would swallow the typo
    with pytest.raises(SpecError, match="has no param 'anything'"):
        check_params(factory, {"anything": 1}, "op 'x'", provided=("channels",))
    with pytest.raises(SpecError, match=r"^op 'x' has no param 'channels'"):  # the caller passes it
        check_params(factory, {"channels": 8}, "op 'x'", provided=("channels",))
    with pytest.raises(SpecError, match=r"^op 'x' needs param 'channels'"):
        check_params(factory, {}, "op 'x'")
    assert check_params(factory, {"gate": 2}, "op 'x'", provided=("channels",)) == {"gate": 2.0}
    with pytest.raises(DataError, match=r"^op 'x': param 'reduction' = 'four': Input should be a valid integer"):
        check_params(factory, {"reduction": "four"}, "op 'x'", provided=("channels",), error=DataError)


def test_every_registry_speaks_the_rule() -> None:
    """The same typo reads the same for a cost, a reward (checked by its params model) and a data source."""
    with pytest.raises(SpecError, match=r"^cost 'latency' has no param 'grad' \(did you mean 'grad_mode'\?\); it takes grad_mode$"):
        check_params(COSTS.get("latency"), {"grad": True}, "cost 'latency'")
    with pytest.raises(SpecError, match=r"^reward 'joint': lambda"):
        build(REWARDS, {"type": "joint", "params": {"lambda": 2.0}}, what="reward")
    assert build(REWARDS, {"type": "joint", "params": {"lambda": 0.2}}, what="reward").lambda_ == 0.2
    with pytest.raises(DataError, match=r"^data source 'set5' has no param 'scale'; it takes no params$"):
        open_images({"type": "set5", "params": {"scale": 2}})


def test_build_calls_the_registered_object_with_the_callers_arguments() -> None:
    registry: Registry[Any] = Registry("things", "thing")
    registry.add("op", factory)
    assert build(registry, {"type": "op", "params": {"reduction": 4}}, 8, what="op", provided=("channels",)) == (8, 4, 1.0)
    assert build(registry, "op", 8, what="op", provided=("channels",), extra={"gate": 3.0}) == (8, 16, 3.0)
    with pytest.raises(UnknownNameError, match="unknown thing 'po'"):
        build(registry, "po", 8, what="op")
    with pytest.raises(SpecError, match=r"^op 'op': "):  # a value the object itself rejects: one line
        build(registry, {"type": "op", "params": {"reduction": 4}}, "8", "extra", what="op", provided=("channels",))
