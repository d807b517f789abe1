"""The network a run folder holds: its genotype (op settings included), scale, width and global skip.

Every command that takes an architecture (``show``, ``cost``, ``train``, ``compare``, ``eval``,
``upscale``, ``export``) and :func:`hnas.build_model` accept a run folder, and all read it here, so
they describe the one network the run trained: ``hnas show RUN`` counts the parameters of the
trained width, and ``hnas cost RUN`` includes its bicubic skip, as ``results.json`` does.

What is read, first found first:

1. ``model.safetensors`` (a finished ``hnas run`` or ``hnas train``): its header is the trained
   network itself.
2. ``train.json`` (an ``hnas train`` run, or a member of ``hnas compare``, before its model file):
   the training's identity names the genotype, scale, width, global skip and op settings.
3. ``spec.json`` and ``genotype.json`` (an ``hnas run`` whose retraining has not finished): the
   chosen genotype at the retraining's width and global skip and the space's scale.

A comparison folder or a lambda sweep holds several networks: the error names where one lives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnas.errors import NotARunFolderError
from hnas.spaces.genotype import Genotype

#: The model file of a run folder (``hnas.checkpoint.MODEL_FILENAME``, not imported: it needs torch).
_MODEL_FILE = "model.safetensors"


@dataclass(frozen=True)
class RunNetwork:
    """The network of a run folder and where it was read from (``source``: a file in the folder;
    None for a preset or genotype file)."""

    genotype: Genotype
    scale: int
    channels: int
    global_skip: str
    source: Path | None


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotARunFolderError(f"{file} is unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise NotARunFolderError(f"{file} holds {type(data).__name__}, not an object")
    return data


def _space_op_params(space: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The op settings a resolved spec's space names (``{type, params}`` nodes of its op lists);
    folders written before genotypes kept them have them only there."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in ("normal", "upsampling"):
        nodes = space.get(f"{kind}_ops") or []
        params = {n["type"]: n["params"] for n in nodes if isinstance(n, dict) and isinstance(n.get("params"), dict)
                  and n["params"] and isinstance(n.get("type"), str)}
        if params:
            out[kind] = params
    return out


def _from_model_file(file: Path) -> RunNetwork:
    from hnas.checkpoint import read_metadata
    from hnas.errors import CheckpointError
    from hnas.plugins import missing_plugin_message

    meta = read_metadata(file)
    message = missing_plugin_message(json.loads(meta.get("plugins", "[]")), str(file))
    if message:
        raise CheckpointError(message)
    try:
        genotype = Genotype.from_data(json.loads(meta["genotype"]), source=f"genotype in {file}")
        genotype = genotype.with_op_params(json.loads(meta.get("op_params", "{}")))
        return RunNetwork(genotype, int(meta["scale"]), int(meta["channels"]), meta.get("global_skip", "none"), file)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{file} has unusable metadata ({type(exc).__name__}: {exc})") from None


def _from_training(file: Path) -> RunNetwork:
    identity = _read_json(file)
    try:
        genotype = Genotype.from_data(identity["genotype"], source=f"genotype in {file}")
        genotype = genotype.with_op_params(identity.get("op_params") or {})
        return RunNetwork(genotype, int(identity["scale"]), int(identity["channels"]),
                          str(identity.get("global_skip", "none")), file)
    except (KeyError, TypeError, ValueError) as exc:
        raise NotARunFolderError(f"{file} is not a training run's identity ({type(exc).__name__}: {exc})") from None


def _from_search(folder: Path) -> RunNetwork:
    from hnas.plugins import PluginError, missing_plugin_message

    spec = _read_json(folder / "spec.json")
    plugins = spec.get("plugins")
    message = missing_plugin_message([p for p in plugins if isinstance(p, str)], str(folder)) if isinstance(
        plugins, list) else None
    if message:  # the genotype names ops only the run's plugins register
        raise PluginError(message)
    space, retrain = spec.get("space") or {}, spec.get("retrain") or {}
    genotype = Genotype.load(folder / "genotype.json").with_op_params(_space_op_params(space))
    try:
        return RunNetwork(genotype, int(space.get("scale", 2)), int(retrain.get("channels", 64)),
                          str(retrain.get("global_skip") or space.get("global_skip") or "none"),
                          folder / "genotype.json")
    except (TypeError, ValueError) as exc:
        raise NotARunFolderError(f"{folder / 'spec.json'} has unusable settings ({exc})") from None


def run_network(path: str | Path) -> RunNetwork:
    """The network the run folder ``path`` trained (or will train); see the module docstring."""
    folder = Path(path)
    if not folder.is_dir():
        raise NotARunFolderError(f"run folder not found: {folder}")
    if (folder / _MODEL_FILE).is_file():
        return _from_model_file(folder / _MODEL_FILE)
    if (folder / "train.json").is_file():
        return _from_training(folder / "train.json")
    if (folder / "spec.json").is_file():
        if (folder / "genotype.json").is_file():
            return _from_search(folder)
        sweep = sorted(p.name for p in folder.glob("lambda-*") if p.is_dir())
        if sweep:
            raise NotARunFolderError(f"{folder} is a lambda sweep with one network per run; name one of its runs, "
                                     f"e.g. {folder / sweep[0]}")
        raise NotARunFolderError(f"{folder} has no chosen architecture yet: the run writes genotype.json after "
                                 "its search")
    if (folder / "compare_spec.json").is_file() or (folder / "compare.json").is_file():
        raise NotARunFolderError(f"{folder} is a comparison of several networks; name one member's run folder, "
                                 f"e.g. {folder / 'members' / 'NAME' / 'seed-0'}")
    raise NotARunFolderError(f"{folder} is not an hnas run folder (no {_MODEL_FILE}, train.json or spec.json with "
                             "genotype.json)")


def resolve_network(
    model: str | Path,
    scale: int | None = None,
    channels: int | None = None,
    global_skip: str | None = None,
    *,
    default_channels: int = 64,
) -> RunNetwork:
    """What a command builds for ``model`` (preset, genotype file or run folder): a run folder's
    own settings, or the defaults (x2, ``default_channels``, no skip), under the settings given."""
    from hnas.spaces.resolve import resolve_genotype

    if Path(model).is_dir():
        run = run_network(model)
    else:
        run = RunNetwork(resolve_genotype(str(model)), 2, default_channels, "none", None)
    return RunNetwork(
        run.genotype,
        run.scale if scale is None else scale,
        run.channels if channels is None else channels,
        run.global_skip if global_skip is None else global_skip,
        run.source,
    )


__all__ = ["NotARunFolderError", "RunNetwork", "resolve_network", "run_network"]
