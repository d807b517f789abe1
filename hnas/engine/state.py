"""Resume state: one ``.safetensors`` file, tensors by group plus a JSON header, no pickle.

Why not ``torch.save``: loading a pickle runs code, and run folders get copied between machines and
people. ``torch.load(weights_only=True)`` would be safe too, but ties the file to torch's
serialisation and hides the state from inspection. Here the tensors (model or supernet weights,
Adam moments, controller weights) are safetensors, grouped by a prefix (``model/...``,
``optim/...``), and everything else (step, optimizer hyper-parameters, baselines, populations,
counters) is JSON in the header, readable with any safetensors tool.

Why one file and not tensors + a separate JSON: the two halves must always describe the same step.
A single file written atomically (temp + rename) cannot be half new and half old after a kill.
Every run of hnas (search, retraining, comparison) resumes through :func:`save_state` and
:func:`load_state`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from hnas.errors import CheckpointError, first_line
from hnas.utils.checksum import verify_safetensors
from hnas.utils.io import atomic_write_safetensors, jsonable

STATE_FORMAT = "hnas-resume/2"
_READABLE = ("hnas-resume/1", STATE_FORMAT)


@dataclass
class State:
    """What a run needs to continue exactly: tensors by group, and JSON-able ``info``."""

    groups: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def group(self, name: str) -> dict[str, torch.Tensor]:
        return self.groups.get(name, {})


def optimizer_to_flat(state_dict: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into flat tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = jsonable(value)
    groups = [jsonable(group) for group in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_flat(tensors: Mapping[str, torch.Tensor], rest: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`optimizer_to_flat` (tuples such as Adam's ``betas`` come back as tuples)."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in rest.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in rest["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def pack_optimizer(state: State, name: str, optimizer: torch.optim.Optimizer) -> None:
    """Add ``optimizer``'s state to ``state`` as the tensor group ``name`` and ``info[name]``."""
    tensors, rest = optimizer_to_flat(optimizer.state_dict())
    state.groups[name] = tensors
    state.info[name] = rest


def unpack_optimizer(state: State, name: str, optimizer: torch.optim.Optimizer) -> None:
    """Load what :func:`pack_optimizer` stored under ``name`` into ``optimizer``."""
    optimizer.load_state_dict(optimizer_from_flat(state.group(name), state.info[name]))


def module_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as contiguous CPU tensors (what a state group holds)."""
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def previous_path(path: str | Path) -> Path:
    """Where the state before the last one is kept: ``resume.safetensors`` -> ``resume.prev.safetensors``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_state(path: str | Path, state: State, keep_previous: bool = False) -> Path:
    """Write every tensor group and the ``info`` header atomically; with ``keep_previous`` the
    state it replaces stays as :func:`previous_path` (the fall-back if the new one is damaged)."""
    tensors = {
        f"{group}/{key}": value.detach().cpu().contiguous()
        for group, values in state.groups.items()
        for key, value in values.items()
    }
    header = {"format": STATE_FORMAT, "info": json.dumps(jsonable(state.info), allow_nan=False, sort_keys=True)}
    return atomic_write_safetensors(path, tensors, header, keep_previous=previous_path(path) if keep_previous else None)


def load_state(path: str | Path) -> State:
    """Read a resume file; a missing, corrupt or foreign file is a one-line :class:`CheckpointError`
    (:class:`~hnas.utils.checksum.DamagedFileError` when its bytes fail their checksum)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no resume state at {path}; start without --resume")
    try:
        verify_safetensors(path)  # a damaged copy is refused here, before any tensor is trusted
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            header = dict(fh.metadata() or {})
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a readable resume file (corrupt or truncated?): {first_line(exc)}") from None
    if header.get("format") not in _READABLE:
        raise CheckpointError(f"{path} is not an hnas resume file (format {header.get('format')!r})")
    try:
        info = json.loads(header["info"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has a damaged header ({exc})") from None
    if header["format"] == "hnas-resume/1":  # hnas 0.1: the optimizer's JSON sat beside the info
        info["optim"] = json.loads(header.get("optimizer", "{}"))
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        group, _, key = name.partition("/")
        groups.setdefault(group, {})[key] = tensor
    return State(groups, info)
