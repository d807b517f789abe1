"""Export a trained network to TorchScript or ONNX, with any height and width.

TorchScript: the network is *scripted*, not traced. A traced graph freezes Python decisions made on
the example input; scripting keeps the shape arithmetic (``Interpolate`` computes its output size
from the input) symbolic. If a third-party op cannot be scripted we fall back to tracing and then
check on a second, differently sized input that the traced graph still follows the size.

ONNX: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript), the exporter torch maintains
now; the legacy TorchScript-based exporter cannot express this network's symbolic sizes (it loses
the shape of a cell input after the upsampling cell). Batch, height and width are dynamic axes.
``onnx``/``onnxruntime``/``onnxscript`` come with the ``onnx`` extra and are imported only here.

Both formats take and return float32 ``N x 3 x H x W`` in 0..255 (output not clamped), like the
eager model.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from hnas.errors import HnasError
from hnas.utils.io import atomic_path

__all__ = [
    "CHECK_SHAPE", "EXPORT_FORMATS", "ExportError", "export_model", "export_onnx", "export_torchscript",
    "load_exported", "max_export_error", "onnx_runner",
]

EXPORT_FORMATS = ("torchscript", "onnx")
ExportFormat = Literal["torchscript", "onnx"]

#: Example input used for tracing/exporting: a batch of 2 (so the batch axis is not specialised
#: to 1) with sizes that are neither 0 nor 1 and differ (so height and width stay distinct).
_EXAMPLE_SHAPE = (2, 3, 24, 20)
#: A second, odd-sized input for checking that an exported graph follows the input size.
CHECK_SHAPE = (1, 3, 17, 23)


class ExportError(HnasError, RuntimeError):
    """The model could not be exported (or the export does not reproduce the eager model)."""


def _require_onnx() -> Any:
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as exc:
        raise ExportError(
            f"ONNX export needs the 'onnx' extra ({exc.name} is missing); pip install 'hnas[onnx]'"
        ) from None
    return onnx


def _example(model: nn.Module, shape: tuple[int, ...] = _EXAMPLE_SHAPE) -> torch.Tensor:
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(shape, generator=generator) * 255.0).to(device)


def _metadata(model: nn.Module) -> dict[str, str]:
    if hasattr(model, "config") and hasattr(model, "genotype"):
        from hnas.checkpoint import model_metadata

        return model_metadata(model)
    return {}


@contextlib.contextmanager
def _quiet_jit() -> Iterator[None]:
    """torch.jit warns that it is deprecated (in favour of torch.export); it still works and is
    what C++/mobile deployments load, so keep users' consoles free of that notice."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.jit.*")
        yield


def export_torchscript(model: nn.Module, path: str | Path) -> Path:
    """Script (or, failing that, trace and verify) ``model`` and save it atomically to ``path``.

    The hnas metadata (genotype, scale, ...) is stored as the ``hnas.json`` extra file, readable
    with ``torch.jit.load(path, _extra_files={"hnas.json": ""})``.
    """
    model = model.eval()
    with _quiet_jit():
        try:
            module = torch.jit.script(model)
        except Exception as script_error:  # noqa: BLE001  (any scripting failure -> try tracing)
            try:
                with torch.no_grad():
                    module = torch.jit.trace(model, (_example(model),), check_trace=False)
            except Exception as trace_error:  # noqa: BLE001
                raise ExportError(
                    f"cannot script ({type(script_error).__name__}) nor trace ({trace_error}) this model"
                ) from None
            error = max_export_error(model, lambda x: module(x), CHECK_SHAPE)
            if error > 1e-3:
                raise ExportError(
                    "the model cannot be scripted and its traced graph does not follow the input size "
                    f"(max error {error:.3g} on {CHECK_SHAPE}); make the custom op scriptable"
                )
        path = Path(path)
        extra = {"hnas.json": json.dumps(_metadata(model), sort_keys=True)}
        with atomic_path(path) as tmp:
            torch.jit.save(module, str(tmp), _extra_files=extra)
    return path


def export_onnx(model: nn.Module, path: str | Path, opset_version: int | None = None) -> Path:
    """Export ``model`` to one self-contained ONNX file with dynamic batch, height and width.

    The hnas metadata goes into the ONNX ``metadata_props``.
    """
    onnx = _require_onnx()
    model = model.eval()
    dims = (
        torch.export.Dim("batch", min=1, max=4096),
        torch.export.Dim("height", min=2, max=65536),
        torch.export.Dim("width", min=2, max=65536),
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        quiet = io.StringIO()
        try:
            with contextlib.redirect_stdout(quiet), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (_example(model),),
                    str(tmp),
                    dynamo=True,
                    verbose=False,
                    external_data=False,
                    opset_version=opset_version,
                    input_names=["lr"],
                    output_names=["sr"],
                    dynamic_shapes=({0: dims[0], 2: dims[1], 3: dims[2]},),
                )
        except Exception as exc:  # noqa: BLE001  (exporter errors are long; keep the first line)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"ONNX export failed: {first}") from None
        proto = onnx.load(str(tmp))
        for key, value in _metadata(model).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = f"hnas.{key}", value
        onnx.save(proto, str(tmp))
    return path


def export_model(model: nn.Module, path: str | Path, format: ExportFormat = "onnx") -> Path:
    """Export to ``format`` (``"torchscript"`` or ``"onnx"``) at ``path``."""
    if format == "torchscript":
        return export_torchscript(model, path)
    if format == "onnx":
        return export_onnx(model, path)
    raise ExportError(f"unknown export format '{format}'; use one of {', '.join(EXPORT_FORMATS)}")


def onnx_runner(path: str | Path) -> Any:
    """A callable running an exported ONNX file with onnxruntime on CPU: tensor in, tensor out."""
    _require_onnx()
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("checking an ONNX file needs onnxruntime; pip install 'hnas[onnx]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: x.detach().cpu().float().numpy()})[0])

    return run


def load_exported(path: str | Path, format: ExportFormat) -> Any:
    """A callable for an exported file: ``torch.jit.load`` or an onnxruntime session."""
    if format == "torchscript":
        with _quiet_jit():
            module = torch.jit.load(str(path), map_location="cpu")
        return lambda x: module(x.cpu())
    return onnx_runner(path)


@torch.no_grad()
def max_export_error(model: nn.Module, exported: Any, shape: tuple[int, ...] = CHECK_SHAPE) -> float:
    """Largest absolute difference (0..255 scale) between ``model`` and ``exported`` on a random input."""
    x = _example(model, shape)
    expected = model(x).float().cpu()
    got = exported(x).float().cpu()
    if tuple(got.shape) != tuple(expected.shape):
        return float("inf")
    return float((got - expected).abs().max())
