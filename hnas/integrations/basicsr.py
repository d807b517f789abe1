"""BasicSR support: hnas networks in BasicSR options files, and checkpoints converted both ways.

Importing this module registers :class:`HNASNet` in BasicSR's ``ARCH_REGISTRY`` (when BasicSR is
installed), so an options file builds it::

    network_g:
      type: HNASNet
      genotype: hnas-a        # a preset name or a genotype file (.json/.toml)
      upscale: 2
      num_feat: 64            # channels per op (hnas's --channels)
      global_skip: bicubic    # optional; also op_params, plugins (modules to import first)

BasicSR's own entry points then train and test it; ``python -m hnas.integrations.basicsr train
-opt options.yml`` (or ``test``) imports this module and runs ``basicsr.train.train_pipeline`` (or
``basicsr.test.test_pipeline``) with the current folder as BasicSR's root. Your own ``train.py``
does the same with ``import hnas.integrations.basicsr`` before ``train_pipeline(root)``.

The network works in BasicSR's 0..1 pixel range (:class:`~hnas.integrations.unit_range.UnitRangeHNASNet`)
with exactly the weights of the hnas network, so :func:`to_basicsr` and :func:`from_basicsr` copy
tensors key for key. Every ``.pth`` BasicSR saves of it holds the architecture as the tensor
``hnas_config``, so :func:`from_basicsr` needs no options to turn it into an hnas model file.

BasicSR 1.4.2, the latest release, imports ``torchvision.transforms.functional_tensor``, a private
module torchvision removed in 0.17; before importing BasicSR this module provides it, as an alias
of the public ``rgb_to_grayscale`` (the only name BasicSR takes from it). Nothing else of BasicSR
is patched. The conversions need torch only, not BasicSR.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hnas.checkpoint import (
    CONFIG_TENSOR,
    check_state_dict,
    config_from_tensor,
    config_tensor,
    load_model,
    model_from_metadata,
    model_metadata,
    save_model,
)
from hnas.errors import CheckpointError, HnasError
from hnas.integrations.unit_range import UnitRangeHNASNet, core_network
from hnas.models.network import HNASNet as PlainHNASNet
from hnas.utils.io import atomic_path

__all__ = ["HNASNet", "from_basicsr", "main", "register", "to_basicsr"]

#: The private torchvision module BasicSR 1.4.2 imports (removed in torchvision 0.17).
_FUNCTIONAL_TENSOR = "torchvision.transforms.functional_tensor"


def _network_arguments(
    genotype: Any,
    upscale: int,
    num_feat: int = 64,
    global_skip: str = "none",
    op_params: Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
    num_in_ch: int = 3,
    num_out_ch: int = 3,
) -> dict[str, Any]:
    """:class:`~hnas.models.network.HNASNet`'s arguments for BasicSR's ``network_g`` options."""
    from hnas.plugins import import_plugins
    from hnas.spaces.resolve import resolve_genotype

    if num_in_ch != 3 or num_out_ch != 3:
        raise HnasError(f"hnas networks are RGB: num_in_ch and num_out_ch must be 3, got {num_in_ch}, {num_out_ch}")
    import_plugins([plugins] if isinstance(plugins, str) else plugins)
    return {
        "genotype": resolve_genotype(genotype),
        "scale": int(upscale),
        "channels": int(num_feat),
        "global_skip": global_skip,
        "op_params": op_params,
    }


class HNASNet(UnitRangeHNASNet):
    """The hnas network as a BasicSR arch (``network_g: {type: HNASNet, ...}``), on 0..1 images.

    ``genotype``: a preset name (``hnas-a``), a genotype file or a genotype table; ``upscale``: the
    scale; ``num_feat``: channels per op (64 in the paper's retraining); ``global_skip``,
    ``op_params``: as in :func:`hnas.build_model`; ``plugins``: modules whose ops the genotype
    names, imported first; ``num_in_ch``/``num_out_ch``: BasicSR's usual names, 3 only.
    """

    def __init__(self, genotype: Any, upscale: int, **options: Any) -> None:
        # the options and their defaults are _network_arguments', written once
        super().__init__(**_network_arguments(genotype, upscale, **options))


def _provide_functional_tensor() -> None:
    """Make ``import torchvision.transforms.functional_tensor`` work for BasicSR 1.4.2 (module docstring)."""
    if _FUNCTIONAL_TENSOR in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    try:
        importlib.import_module(_FUNCTIONAL_TENSOR)
        return
    except ImportError:
        pass
    from torchvision.transforms import functional

    shim = types.ModuleType(_FUNCTIONAL_TENSOR, "Provided by hnas.integrations.basicsr for BasicSR 1.4.2.")
    shim.rgb_to_grayscale = functional.rgb_to_grayscale  # type: ignore[attr-defined]
    sys.modules[_FUNCTIONAL_TENSOR] = shim


def register() -> type[HNASNet]:
    """Register :class:`HNASNet` in BasicSR's ``ARCH_REGISTRY`` (once) and return the registered class."""
    if importlib.util.find_spec("basicsr") is None:
        raise HnasError("BasicSR is not installed; see docs/embedding.md for how to install it with hnas")
    _provide_functional_tensor()
    from basicsr.utils.registry import ARCH_REGISTRY

    if "HNASNet" not in ARCH_REGISTRY:
        ARCH_REGISTRY.register(HNASNet)
    return ARCH_REGISTRY.get("HNASNet")  # type: ignore[no-any-return]


def to_basicsr(model: str | Path | nn.Module, path: str | Path, param_key: str = "params") -> Path:
    """Write an hnas model (a model file, a run folder or a network) as a BasicSR checkpoint.

    The file is ``torch.save({param_key: state_dict})``, what BasicSR's ``load_network`` reads with
    ``param_key_g`` (default ``params``) and what ``path: pretrain_network_g`` points at; the
    state dict includes ``hnas_config``, so the file also loads in spandrel.
    """
    if isinstance(model, nn.Module):
        net = core_network(model)  # type: ignore[arg-type]
    else:
        net = load_model(model)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in net.state_dict().items()}
    state[CONFIG_TENSOR] = config_tensor(model_metadata(net))  # type: ignore[arg-type]
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({param_key: state}, tmp)
    return path


def _state_dict_of(data: Any, param_key: str | None, source: str) -> dict[str, torch.Tensor]:
    """The network's tensors in a BasicSR checkpoint: ``data[param_key]``, else ``params_ema``
    (the averaged weights, when training kept them), else ``params``, else ``data`` itself."""
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{source} holds a {type(data).__name__}, not a BasicSR checkpoint (a dict of tensors)")
    if param_key is not None:
        if param_key not in data:
            raise CheckpointError(f"{source} has no '{param_key}'; it has: {', '.join(map(str, data))}")
        data = data[param_key]
    else:
        for key in ("params_ema", "params"):
            if isinstance(data.get(key), Mapping):
                data = data[key]
                break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{source} holds no state dict of tensors (pass param_key, e.g. 'params')")
    state = {str(k): v for k, v in data.items()}
    if state and all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def from_basicsr(
    checkpoint: str | Path,
    path: str | Path,
    network_g: Mapping[str, Any] | None = None,
    param_key: str | None = None,
) -> Path:
    """Write a BasicSR checkpoint of an hnas network as an hnas model file (``.safetensors``).

    The architecture comes from the checkpoint's ``hnas_config`` (every ``.pth`` BasicSR saves of
    :class:`HNASNet` has it), else from ``network_g``, the options the network was built with (the
    ``network_g`` table of the options file). Given both, they must agree. The weights load
    strictly: a tensor that does not fit is a one-line :class:`~hnas.errors.CheckpointError`.
    """
    source = str(checkpoint)
    if not Path(checkpoint).is_file():
        raise CheckpointError(f"checkpoint not found: {checkpoint}")
    try:
        data = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (unpickling junk raises anything: struct.error, ValueError, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{source} is not a readable torch checkpoint: {first}") from None
    state = _state_dict_of(data, param_key, source)
    stored = state.pop(CONFIG_TENSOR, None)
    given = None
    if network_g is not None:
        options = dict(network_g)
        kind = options.pop("type", "HNASNet")
        if kind != "HNASNet":
            raise CheckpointError(f"network_g is of type '{kind}', not HNASNet")
        given = PlainHNASNet(**_network_arguments(**options))
    if stored is not None:
        net = model_from_metadata(config_from_tensor(stored, source), source=source)
        if given is not None and given.config() != net.config():
            raise CheckpointError(
                f"{source} holds another network than network_g describes: {net.config()} vs {given.config()}"
            )
    elif given is not None:
        net = given
    else:
        raise CheckpointError(
            f"{source} does not say which network it holds (no '{CONFIG_TENSOR}'); "
            "pass network_g, the options it was built with (genotype, upscale, num_feat, ...)"
        )
    check_state_dict(net, state, source=source)
    net.load_state_dict(state, strict=True)
    return save_model(net, path, extra_metadata={"converted_from": f"basicsr:{Path(checkpoint).name}"})


_USAGE = """usage: python -m hnas.integrations.basicsr COMMAND ...

  train -opt OPTIONS.yml [...]   BasicSR's training (basicsr.train.train_pipeline), HNASNet registered
  test  -opt OPTIONS.yml [...]   BasicSR's testing (basicsr.test.test_pipeline), HNASNet registered
  convert SOURCE TARGET [--param-key KEY] [-opt OPTIONS.yml]
                                 model.safetensors (or run folder) -> BasicSR .pth, or .pth -> .safetensors;
                                 -opt supplies network_g for a .pth without hnas_config

BasicSR writes experiments/ and results/ in the current folder; its own options follow -opt."""


def _convert(args: list[str]) -> Path:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hnas.integrations.basicsr convert")
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--param-key", default=None)
    parser.add_argument("-opt", dest="options", type=Path, default=None)
    parsed = parser.parse_args(args)
    if parsed.source.suffix == ".pth":
        network_g = None
        if parsed.options is not None:
            import yaml

            try:
                network_g = yaml.safe_load(parsed.options.read_text())["network_g"]
            except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
                raise HnasError(f"cannot read network_g from {parsed.options}: {exc}") from None
        return from_basicsr(parsed.source, parsed.target, network_g=network_g, param_key=parsed.param_key)
    return to_basicsr(parsed.source, parsed.target, param_key=parsed.param_key or "params")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hnas.integrations.basicsr``: BasicSR's train/test entry points, and ``convert``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0
    verb, rest = args[0], args[1:]
    try:
        if verb in ("train", "test"):
            register()
            pipeline = (
                importlib.import_module("basicsr.train").train_pipeline
                if verb == "train"
                else importlib.import_module("basicsr.test").test_pipeline
            )
            sys.argv = [f"basicsr-{verb}", *rest]  # BasicSR parses its options from sys.argv
            pipeline(str(Path.cwd()))
            return 0
        if verb == "convert":
            print(_convert(rest))
            return 0
    except HnasError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"error: unknown command '{verb}' (train, test or convert); see --help", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # Run the module's importable copy, so BasicSR's registry holds hnas.integrations.basicsr.HNASNet.
    sys.exit(importlib.import_module("hnas.integrations.basicsr").main())
elif importlib.util.find_spec("basicsr") is not None:
    register()
