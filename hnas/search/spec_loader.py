"""Reading a spec: TOML or a run folder's spec.json, ``--set`` overrides, plugins, validation, and
the one check that builds every component it names, each problem one :class:`SpecError` line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hnas.errors import SpecError, first_error
from hnas.plugins import import_plugins
from hnas.search.spec import Spec
from hnas.utils.compat import tomllib
from hnas.utils.io import read_structured

__all__ = ["apply_overrides", "check_spec", "load_run_spec", "load_spec", "spec_from_dict"]


def _parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax when it parses (numbers, booleans, lists), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (``--set reward.lambda=0.2``) to the raw spec dict."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set expects key=value (e.g. reward.lambda=0.2), got '{item}'")
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(f"--set {key}: '{part}' is not a section")
            node = child
        node[parts[-1]] = _parse_value(value.strip())
    return data


def _keys_at(path: tuple[Any, ...]) -> list[str]:
    """The keys the spec section at ``path`` (``("reward",)``) takes, or [] where it is not a section."""
    model: Any = Spec
    for part in path:
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [field.alias or name for name, field in model.model_fields.items()]


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc, msg = first_error(exc)
    if err["type"] == "extra_forbidden":
        import difflib

        path = tuple(err["loc"])
        close = difflib.get_close_matches(str(path[-1]), _keys_at(path[:-1]), n=1) if path else []
        if close:
            return (f"unknown key '{loc}': did you mean '{'.'.join([*map(str, path[:-1]), close[0]])}'? "
                    "(see examples/quickstart.toml for the keys)")
        return f"unknown key '{loc}' (check the spelling; see examples/quickstart.toml for the keys)"
    value = err.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
    return f"{loc}: {msg}{shown}" if loc else f"{msg}{shown}"


def spec_from_dict(data: dict[str, Any], source: str = "spec", plugins: list[str] | None = None,
                   *, import_named: bool = True, overrides: list[str] | None = None) -> Spec:
    """Validate a spec dict (after importing its ``plugins`` and the extra ``plugins``) and check
    every component it names (:func:`check_spec`); every problem is one :class:`SpecError` line.
    A value that came from one of ``overrides`` (``--set key=value``) is blamed on that option.

    ``import_named=False`` is for specs read back from a run folder: data, which never imports
    code by itself, so a plugin it names must have been passed (``--plugin``) or the error says so.
    """
    named = data.get("plugins", [])
    if not (isinstance(named, list) and all(isinstance(p, str) for p in named)):
        raise SpecError(f"{source}: plugins must be a list of module names, e.g. plugins = [\"my_ops\"]")
    near = [Path(source).parent] if Path(source).is_file() else []
    plugins = import_plugins(plugins or [], near)
    if import_named:
        named = import_plugins(named, near)
        data = {**data, "plugins": named}
    else:
        from hnas.plugins import missing_plugin_message

        message = missing_plugin_message(named, source)
        if message:
            raise SpecError(message)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{_blame(exc, source, overrides or [])}: {_describe(exc)}") from None
    if plugins:
        spec = spec.model_copy(update={"plugins": list(dict.fromkeys([*spec.plugins, *plugins]))})
    check_spec(spec, source)
    return spec


def _blame(exc: ValidationError, source: str, overrides: list[str]) -> str:
    """``--set KEY=VALUE`` when the first error lies at or under an overridden key, else ``source``."""
    loc = [str(part) for part in exc.errors()[0]["loc"]]
    for item in reversed(overrides):  # the last --set of a key is the one that counts
        key = item.partition("=")[0].strip().split(".")
        if loc[: len(key)] == key or key[: len(loc)] == loc:
            return f"--set {item}"
    return source


def load_run_spec(run: str | Path, plugins: list[str] | None = None) -> Spec:
    """The resolved spec of a run folder (``spec.json``); its plugins must be passed, not imported."""
    file = Path(run) / "spec.json"
    data = read_structured(file, "run spec", SpecError, toml=False)
    return spec_from_dict(data, source=str(file), plugins=plugins, import_named=False)


def load_spec(path: str | Path, overrides: list[str] | None = None, plugins: list[str] | None = None) -> Spec:
    """Read, override and validate a TOML spec; every problem is a one-line :class:`SpecError`."""
    data = read_structured(path, "spec file", SpecError, toml=True)
    return spec_from_dict(apply_overrides(data, overrides or []), source=str(path), plugins=plugins,
                          overrides=overrides)


def _check_training_nodes(loss: Any, optimizer: Any) -> None:
    """Build the retraining's loss and optimizer once."""
    from hnas.errors import UnknownNameError
    from hnas.train.losses import build_loss
    from hnas.train.optimizers import check_optimizer

    for where, check, node in (("retrain.loss", build_loss, loss), ("retrain.optimizer", check_optimizer, optimizer)):
        try:
            check(node)
        except UnknownNameError as exc:
            raise SpecError(f"{where}: {exc}") from None


def check_spec(spec: Spec, source: str = "spec") -> None:
    """Build every component the spec names once (ops, cells, controller, reward, cost, the
    retraining's loss and optimizer), so that a wrong name or param is one line naming it, before anything is
    written."""
    from hnas.search.components import build_components, build_strategy

    try:
        for member in [spec.for_lambda(value) for value in spec.reward.lambdas or []] or [spec]:
            components = build_components(member)
            if member.strategy is not None:
                build_strategy(member, components)
        if spec.retrain.enabled:
            _check_training_nodes(spec.retrain.loss, spec.retrain.optimizer)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


