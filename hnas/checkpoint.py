"""Model checkpoints: one ``.safetensors`` file that rebuilds its own network.

Why safetensors and not ``torch.save``: a pickle can run arbitrary code when loaded, and model
files are exactly what people download and share. A safetensors file holds only tensors plus a
string-to-string header, so the architecture travels as metadata: the canonical genotype JSON,
scale, channels, global skip, pixel range, the hnas version and a format tag. :func:`load_model`
rebuilds :class:`~hnas.models.network.HNASNet` from that header and loads the weights *strictly*:
the authors' code loaded with ``strict=False``, so a checkpoint for another genotype loaded silently
into the wrong network (HNAS-REFERENCE.md, defects). Here any missing, unexpected or reshaped tensor
is a one-line :class:`~hnas.errors.CheckpointError` that names the tensors.

The same architecture keys also travel inside the weights, as the JSON bytes of one ``uint8``
tensor named :data:`CONFIG_TENSOR`: loaders that keep only a file's tensors (spandrel reads a
``.safetensors`` file with ``load_file`` and drops its header; a BasicSR ``.pth`` has no header at
all) still find the genotype, so a file renamed or converted by an app rebuilds its network
(:mod:`hnas.integrations`). The header stays the source hnas reads; the tensor is skipped when the
weights are loaded.

Resume state (optimizer, RNG, step) is not in this file; see :mod:`hnas.train.state`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from hnas.errors import CheckpointError, HnasError, first_line
from hnas.utils.checksum import CHECKSUM_KEY, verify_safetensors
from hnas.utils.device import resolve_device
from hnas.utils.io import atomic_write_safetensors

#: Format tag written into every model file; the number changes only on incompatible changes.
MODEL_FORMAT = "hnas-model/1"
#: File name used for a model inside a run folder (``hnas train --out DIR``).
MODEL_FILENAME = "model.safetensors"
#: Metadata keys hnas owns; ``extra_metadata`` may not overwrite them.
RESERVED_KEYS = (
    "format", "genotype", "scale", "channels", "global_skip", "rgb_range", "op_params", "plugins", "hnas_version",
    CHECKSUM_KEY,
)

#: The tensor that carries the reserved header keys inside the weights (JSON bytes, ``uint8``).
CONFIG_TENSOR = "hnas_config"

_MAX_LISTED = 3

if TYPE_CHECKING:
    from hnas.models.network import HNASNet


def _version() -> str:
    from hnas import __version__

    return __version__


def model_metadata(model: HNASNet, extra_metadata: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The string-only header for ``model``: its :meth:`HNASNet.config` plus format and version.

    ``extra_metadata`` values that are not strings are stored as JSON (safetensors headers hold
    strings only); reserved keys cannot be overwritten.
    """
    config = model.config()
    meta = {
        "format": MODEL_FORMAT,
        # op settings go in their own key, as every hnas-model/1 file has them: hnas versions whose
        # genotypes had no op_params still read the file
        "genotype": model.genotype.without_op_params().canonical_json(),
        "scale": str(int(config["scale"])),
        "channels": str(int(config["channels"])),
        "global_skip": str(config["global_skip"]),
        "rgb_range": repr(float(config["rgb_range"])),
        "hnas_version": _version(),
    }
    if config.get("op_params"):
        meta["op_params"] = json.dumps(config["op_params"], sort_keys=True)
    from hnas.plugins import modules_needed

    plugins = modules_needed(model.genotype)
    if plugins:
        meta["plugins"] = json.dumps(plugins)
    for key, value in (extra_metadata or {}).items():
        if key in RESERVED_KEYS:
            raise ValueError(f"extra_metadata key '{key}' is reserved by hnas; reserved: {', '.join(RESERVED_KEYS)}")
        meta[str(key)] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return meta


def config_tensor(meta: Mapping[str, str]) -> torch.Tensor:
    """The reserved keys of a model header as a ``uint8`` tensor of their JSON (see module docstring)."""
    data = json.dumps({key: meta[key] for key in RESERVED_KEYS if key in meta}, sort_keys=True)
    return torch.tensor(list(data.encode("utf-8")), dtype=torch.uint8)


def config_from_tensor(tensor: Any, source: str = "checkpoint") -> dict[str, str]:
    """The header keys :func:`config_tensor` stored; a damaged tensor is a :class:`CheckpointError`."""
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.uint8 or tensor.dim() != 1:
        raise CheckpointError(f"{source}: '{CONFIG_TENSOR}' is not a 1-D uint8 tensor of hnas metadata")
    try:
        meta = json.loads(bytes(tensor.cpu().tolist()).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{source}: '{CONFIG_TENSOR}' does not hold JSON ({exc})") from None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{source}: '{CONFIG_TENSOR}' is not a table of strings")
    if meta.get("format") != MODEL_FORMAT or "genotype" not in meta:
        raise CheckpointError(
            f"{source}: '{CONFIG_TENSOR}' describes format {meta.get('format')!r}, this hnas reads '{MODEL_FORMAT}'"
        )
    return meta


def save_model(model: HNASNet, path: str | Path, extra_metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and architecture to ``path`` (a ``.safetensors`` file), atomically.

    A directory ``path`` gets ``model.safetensors`` inside it. Tensors are copied to contiguous CPU
    memory first, so a model on any device (or with views) saves the same bytes; the header's
    architecture keys are added as the :data:`CONFIG_TENSOR` tensor (module docstring).
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILENAME
    meta = model_metadata(model, extra_metadata)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    tensors[CONFIG_TENSOR] = config_tensor(meta)
    atomic_write_safetensors(path, tensors, meta)
    return path


def _resolve_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        candidate = path / MODEL_FILENAME
        if not candidate.is_file():
            raise CheckpointError(f"{path} is a folder without {MODEL_FILENAME}; pass the checkpoint file itself")
        return candidate
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The header of a model file (no tensors are read); raises if it is not an hnas model file."""
    path = _resolve_file(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {first_line(exc)}") from None
    fmt = meta.get("format")
    if fmt is None or "genotype" not in meta:
        raise CheckpointError(
            f"{path} has no hnas metadata (format, genotype); it was not written by hnas.save_model"
        )
    if fmt != MODEL_FORMAT:
        if fmt.split("/")[0] != MODEL_FORMAT.split("/")[0]:
            raise CheckpointError(f"{path} is a '{fmt}' file, not an hnas model ('{MODEL_FORMAT}')")
        raise CheckpointError(f"{path} has format '{fmt}', this hnas reads '{MODEL_FORMAT}'; upgrade hnas")
    return meta


def model_from_metadata(
    meta: Mapping[str, str], source: str = "checkpoint", network_class: type[HNASNet] | None = None,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> HNASNet:
    """Build the (untrained) network a header describes; a bad header names ``source``.

    ``network_class`` is an :class:`HNASNet` subclass to build instead (the 0..1 networks of
    :mod:`hnas.integrations` take the same arguments). ``shapes`` (the file's tensor shapes): the
    network is first built on the ``meta`` device, which allocates nothing, and compared with
    them, so a header claiming a huge network (a crafted ``channels``, say) is a one-line error
    instead of gigabytes of weights allocated before the mismatch shows.
    """
    from hnas.models.network import HNASNet
    from hnas.plugins import missing_plugin_message
    from hnas.spaces.genotype import Genotype

    network_class = network_class or HNASNet
    try:
        message = missing_plugin_message(json.loads(meta.get("plugins", "[]")), source)
        if message:
            raise CheckpointError(message)
        genotype = Genotype.from_data(json.loads(meta["genotype"]), source=f"genotype in {source}")
        if shapes is not None and genotype.layers > len(shapes):  # every layer holds weights
            raise CheckpointError(f"{source} does not match the network its metadata describes: "
                                  f"{genotype.layers} layers, {len(shapes)} tensors")
        settings = dict(
            scale=int(meta["scale"]),
            channels=int(meta["channels"]),
            global_skip=meta.get("global_skip", "none"),
            rgb_range=float(meta.get("rgb_range", "255.0")),
            op_params=json.loads(meta.get("op_params", "{}")),
        )
        if shapes is not None:
            with torch.device("meta"):
                described = network_class(genotype, **settings)  # type: ignore[arg-type]
            carried = CONFIG_TENSOR in described.state_dict()  # the architecture tensor is no weight of HNASNet
            check_state_dict(described, {k: torch.empty(v, device="meta") for k, v in shapes.items()
                                         if carried or k != CONFIG_TENSOR}, source)
        return network_class(genotype, **settings)  # type: ignore[arg-type]
    except CheckpointError:
        raise
    except HnasError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    except (KeyError, ValueError, TypeError, OverflowError, RuntimeError) as exc:
        raise CheckpointError(f"{source} has unusable metadata ({type(exc).__name__}: {first_line(exc)})") from None


def _tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shapes of a file's tensors, from its header alone."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            return {name: tuple(fh.get_slice(name).get_shape()) for name in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {first_line(exc)}") from None


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def check_state_dict(
    model: nn.Module, tensors: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """Raise a one-line :class:`CheckpointError` unless ``tensors`` fit ``model`` exactly."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in tensors]
    unexpected = [name for name in tensors if name not in expected]
    reshaped = [
        f"{name} {tuple(tensors[name].shape)} vs model {tuple(t.shape)}"
        for name, t in expected.items()
        # the config tensor is no weight: its length follows the hnas version that wrote it
        if name in tensors and name != CONFIG_TENSOR and tuple(tensors[name].shape) != tuple(t.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s): {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s): {_listing(unexpected)}")
    if reshaped:
        problems.append(f"{len(reshaped)} shape mismatch(es): {_listing(reshaped)}")
    if problems:
        raise CheckpointError(
            f"{source} does not match the network its metadata describes: " + "; ".join(problems)
        )


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        verify_safetensors(path)  # a bit flip in a tensor would otherwise load as silently wrong weights
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"cannot read tensors from {path} (corrupt or truncated?): {first_line(exc)}") from None


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a model file's weights into an existing ``model``, strictly (no architecture rebuild)."""
    file = _resolve_file(path)
    tensors = _read_tensors(file)
    if CONFIG_TENSOR not in model.state_dict():
        tensors.pop(CONFIG_TENSOR, None)
    check_state_dict(model, tensors, source=str(file))
    model.load_state_dict(tensors, strict=True)
    return model


def load_model(
    path: str | Path, device: str | torch.device = "cpu", plugins: Iterable[str] | None = None
) -> HNASNet:
    """Rebuild the network stored in ``path`` and load its weights strictly; returns it in eval mode.

    ``path`` is a ``.safetensors`` file written by :func:`save_model` or a run folder holding
    ``model.safetensors``. ``plugins`` are imported first (module names or ``.py`` paths, as
    ``--plugin`` takes them): a model file records the plugin modules its ops come from but never
    imports code by itself. Every problem (no file, corrupt file, no hnas metadata, a plugin not
    imported, tensors that do not fit the described network) is a :class:`CheckpointError` or
    :class:`~hnas.plugins.PluginError` naming the file or module.
    """
    if plugins:
        from hnas.plugins import import_plugins

        import_plugins(plugins)
    file = _resolve_file(path)
    meta = read_metadata(file)
    model = model_from_metadata(meta, source=str(file), shapes=_tensor_shapes(file))
    load_weights(model, file)
    return model.to(resolve_device(device)).eval()
