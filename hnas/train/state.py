"""Resume state: one ``resume.safetensors`` file, tensors plus a JSON header, no pickle.

Why not ``torch.save``: loading a pickle runs code, and run folders get copied between machines and
people. ``torch.load(weights_only=True)`` would be safe too, but ties the file to torch's
serialisation and hides the state from inspection. Here the tensors (model weights, Adam moments,
RNG states) are safetensors, and everything else (step, optimizer hyper-parameters, scheduler
state, the config, counters) is JSON in the header, readable with any safetensors tool.

Why one file and not tensors + a separate JSON: the two halves must always describe the same step.
A single file written atomically (temp + rename) cannot be half new and half old after a kill.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from hnas.errors import CheckpointError
from hnas.utils.io import atomic_path

RESUME_FORMAT = "hnas-resume/1"
RESUME_FILENAME = "resume.safetensors"


@dataclass
class ResumeState:
    """What a run needs to continue exactly: tensors by group, and JSON-able ``info``."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def optimizer_to_flat(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into flat tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = _jsonable(value)
    groups = [_jsonable(group) for group in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_flat(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
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


def rng_states(device: torch.device) -> dict[str, torch.Tensor]:
    """torch's CPU (and, on CUDA, the device's) generator states."""
    states = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: dict[str, torch.Tensor], device: torch.device) -> None:
    if "cpu" in states:
        torch.set_rng_state(states["cpu"].to(torch.uint8))
    if "cuda" in states and device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"].to(torch.uint8), device)


def save_resume(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                device: torch.device, info: dict[str, Any]) -> Path:
    """Write model, optimizer, RNG and ``info`` (step, config, scheduler, counters) atomically."""
    opt_tensors, opt_rest = optimizer_to_flat(optimizer.state_dict())
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"optim/{k}": v for k, v in opt_tensors.items()})
    tensors.update({f"rng/{k}": v.cpu().contiguous() for k, v in rng_states(device).items()})
    header = {"format": RESUME_FORMAT, "optimizer": json.dumps(opt_rest), "info": json.dumps(_jsonable(info))}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def load_resume(path: str | Path) -> ResumeState:
    """Read a resume file; a missing, corrupt or foreign file is a one-line :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no resume state at {path}; start without --resume")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            header = dict(fh.metadata() or {})
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a readable resume file (corrupt or truncated?): {exc}") from None
    if header.get("format") != RESUME_FORMAT:
        raise CheckpointError(f"{path} is not an hnas resume file (format {header.get('format')!r})")
    try:
        opt_rest = json.loads(header["optimizer"])
        info = json.loads(header["info"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has a damaged header ({exc})") from None
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optim": {}, "rng": {}}
    for name, tensor in tensors.items():
        group, _, key = name.partition("/")
        if group in groups:
            groups[group][key] = tensor
    return ResumeState(
        model=groups["model"],
        optimizer=optimizer_from_flat(groups["optim"], opt_rest),
        rng=groups["rng"],
        info=info,
    )
