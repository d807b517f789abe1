"""A ``{type, params}`` node, and the one rule by which its params are checked and it is built.

Every pluggable thing a spec names (an op, a cell type, the controller, the strategy, the reward,
the cost, a data source) is a node: the name it is registered under and the keyword params of
the registered class or factory. One rule holds for all of them, so that a mistake reads the same
wherever it is made:

* a param must be a *named* parameter of the registered object: a ``**kwargs`` catch-all would
  swallow a misspelt key silently, so it is not an invitation to pass anything;
* the arguments the caller supplies itself (an op's ``channels``) cannot be set;
* a parameter without a default must be given;
* a value is validated against the parameter's annotation (pydantic, lax: ``3`` is a ``float``);
* an object that takes its params as one pydantic model (the rewards) names it as its
  ``params_model`` class attribute, and the params are validated by that model instead;

and each mistake is one line of the caller's error class naming the node, the key and what the
node does take.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from hnas.errors import HnasError, SpecError, first_error
from hnas.registry import Registry

__all__ = ["Node", "build", "check_params", "settable_params"]


class Node(BaseModel):
    """A registry node: the registered ``type`` and the keyword ``params`` it takes.

    ``{type = "rcab", params = {reduction = 4}}`` in TOML, or the bare name ``"rcab"``. Unknown keys
    are rejected, so ``{type = "folder", path = "..."}`` (params not nested) names ``path``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(min_length=1, description="a registered name")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of what is registered")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    def canonical(self, registry: Registry[Any]) -> Node:
        """This node under the registry's primary name (an unknown name raises its one-line error)."""
        return type(self)(type=registry.canonical(self.type), params=self.params)


def settable_params(obj: Any, provided: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
    """The named parameters of a registered class or factory that ``params`` may set (``provided``
    ones, which the caller passes itself, excluded); ``{}`` when it has no readable signature."""
    target = obj.__init__ if isinstance(obj, type) else obj
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    return {name: p for name, p in signature.parameters.items()
            if name not in ("self", *provided) and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _type_hints(obj: Any) -> dict[str, Any]:
    target = obj.__init__ if isinstance(obj, type) else obj
    try:
        return typing.get_type_hints(target)
    except Exception:  # noqa: BLE001  (unresolvable annotations: skip type checks, keep the name checks)
        return {}


def check_params(obj: Any, params: dict[str, Any], what: str, *, provided: tuple[str, ...] = (),
                 error: type[HnasError] = SpecError) -> dict[str, Any]:
    """``params`` checked by the rule of this module against ``obj``'s signature; returns them with
    annotated values validated. ``what`` names the node in the message (``"cost 'macs'"``)."""
    schema = getattr(obj, "params_model", None)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(params)
        except ValidationError as exc:
            where, message = first_error(exc)
            raise error(f"{what}: {where or 'params'}: {message}") from None
        return dict(params)
    named = settable_params(obj, provided)
    for key in params:
        if key not in named:
            close = difflib.get_close_matches(key, list(named), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            takes = f"it takes {', '.join(named)}" if named else "it takes no params"
            raise error(f"{what} has no param '{key}'{hint}; {takes}")
    for name, parameter in named.items():
        if parameter.default is parameter.empty and name not in params:
            raise error(f"{what} needs param '{name}': params = {{{name} = ...}}")
    hints = _type_hints(obj)
    checked = {}
    for key, value in params.items():
        if key in hints and hints[key] is not Any:
            try:
                value = TypeAdapter(hints[key]).validate_python(value)
            except ValidationError as exc:
                raise error(f"{what}: param '{key}' = {value!r}: {exc.errors()[0]['msg']}") from None
            except Exception:  # noqa: BLE001, S110  (an annotation pydantic cannot check is not checked)
                pass
        checked[key] = value
    return checked


def build(registry: Registry[Any], node: Node | str | dict[str, Any], *args: Any, what: str,
          provided: tuple[str, ...] = (), error: type[HnasError] = SpecError,
          extra: dict[str, Any] | None = None) -> Any:
    """The object ``node`` names in ``registry``, called with ``args`` (the ``provided`` arguments),
    its checked params and ``extra`` keywords the caller adds (e.g. the run's seed); ``what`` is the
    kind of node (``"cost"``). Every mistake is one ``error`` line."""
    if not isinstance(node, Node):
        try:
            node = Node.model_validate(node)
        except ValidationError as exc:
            where, message = first_error(exc)
            raise error(f"{what}: {where + ': ' if where else ''}{message}; a {what} is a registered name or "
                        f"{{type = \"NAME\", params = {{...}}}}") from None
    name = registry.canonical(node.type)
    obj = registry.get(name)
    label = f"{what} '{name}'"
    params = check_params(obj, dict(node.params), label, provided=provided, error=error)
    return call(label, obj, *args, error=error, **params, **(extra or {}))


def call(label: str, factory: Callable[..., Any], *args: Any, error: type[HnasError] = SpecError,
         **params: Any) -> Any:
    """``factory(*args, **params)``, a value it rejects (``TypeError``/``ValueError``) being one line."""
    try:
        return factory(*args, **params)
    except HnasError:
        raise
    except (TypeError, ValueError) as exc:
        raise error(f"{label}: {exc}") from None
