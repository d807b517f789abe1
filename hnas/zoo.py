"""Named model presets: ``hnas_a_x2`` ... ``hnas_c_x4`` return untrained :class:`HNASNet` modules.

A preset fixes the genotype (HNAS-A/B/C, paper Fig. 4) and the scale; channels (64 as retrained in
the paper) and ``global_skip`` stay keyword arguments::

    import hnas
    net = hnas.zoo.hnas_a_x2(channels=32)

timm registration. Importing this module (``import hnas.zoo``, or any use of ``hnas.zoo``; a plain
``import hnas`` does it only when timm was imported first) also registers the nine presets
with timm's model registry, so ``timm.create_model("hnas_a_x2")`` and
``timm.list_models("hnas_*")`` work in code that builds every model through timm. Why at import:
timm has no plugin discovery, so a registry entry only exists once the defining module ran, and
timm's own models register the same way. Why it is safe: timm's registry already holds every timm
model once ``timm.models`` is imported, registration only adds names with the ``hnas_``
prefix (none of timm's names), running it twice (``importlib.reload``) replaces our own entries
quietly, and a name some other package already registered is left alone with a warning instead
of being overwritten. No pretrained weights are published: ``pretrained=True`` is an error.

timm's usual keywords are taken the way an SR network can honour them: ``in_chans`` must be 3 and
``num_classes`` must be 3 (the RGB channels the network outputs), 0 or None (timm's "no classifier
head": an SR network has none); anything else is a one-line error rather than a network that
silently ignores what was asked of it.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Callable
from typing import Any

from hnas.errors import HnasError, UnknownNameError
from hnas.models.network import HNASNet, build_model

#: Keyword arguments ``timm.create_model`` passes to every entrypoint; presets accept and drop them.
_TIMM_KWARGS = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")
ARCHITECTURES = ("a", "b", "c")
SCALES = (2, 3, 4)


def _make(arch: str, scale: int, pretrained: bool, kwargs: dict[str, Any]) -> HNASNet:
    name = f"hnas_{arch}_x{scale}"
    if pretrained:
        raise HnasError(
            f"no pretrained weights are published for {name}; train one with `hnas train hnas-{arch} "
            f"--scale {scale} ...` and load it with hnas.load_model(path)"
        )
    for key in _TIMM_KWARGS:
        kwargs.pop(key, None)
    classes = kwargs.pop("num_classes", None)
    if classes not in (None, 0, 3):
        raise HnasError(f"{name} is a super-resolution network: it outputs an RGB image (3 channels), not "
                        f"class scores, so num_classes={classes!r} cannot apply (use 3, 0 or leave it out)")
    channels_in = kwargs.pop("in_chans", 3)
    if channels_in != 3:
        raise HnasError(f"{name} takes RGB images: in_chans must be 3, got {channels_in!r}")
    return build_model(f"hnas-{arch}", scale=scale, **kwargs)


def hnas_a_x2(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-A (upsampling at layer 10 of 12), x2."""
    return _make("a", 2, pretrained, kwargs)


def hnas_a_x3(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-A (upsampling at layer 10 of 12), x3."""
    return _make("a", 3, pretrained, kwargs)


def hnas_a_x4(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-A (upsampling at layer 10 of 12), x4."""
    return _make("a", 4, pretrained, kwargs)


def hnas_b_x2(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-B (upsampling at layer 12 of 12), x2."""
    return _make("b", 2, pretrained, kwargs)


def hnas_b_x3(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-B (upsampling at layer 12 of 12), x3."""
    return _make("b", 3, pretrained, kwargs)


def hnas_b_x4(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-B (upsampling at layer 12 of 12), x4."""
    return _make("b", 4, pretrained, kwargs)


def hnas_c_x2(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-C (upsampling at layer 12 of 12), x2."""
    return _make("c", 2, pretrained, kwargs)


def hnas_c_x3(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-C (upsampling at layer 12 of 12), x3."""
    return _make("c", 3, pretrained, kwargs)


def hnas_c_x4(pretrained: bool = False, **kwargs: Any) -> HNASNet:
    """HNAS-C (upsampling at layer 12 of 12), x4."""
    return _make("c", 4, pretrained, kwargs)


MODELS: dict[str, Callable[..., HNASNet]] = {
    fn.__name__: fn
    for fn in (
        hnas_a_x2, hnas_a_x3, hnas_a_x4,
        hnas_b_x2, hnas_b_x3, hnas_b_x4,
        hnas_c_x2, hnas_c_x3, hnas_c_x4,
    )
}


def list_models(pattern: str = "*") -> list[str]:
    """Preset names matching a shell wildcard, e.g. ``list_models("*_x4")``."""
    return [name for name in MODELS if fnmatch.fnmatchcase(name, pattern)]


def create_model(name: str, **kwargs: Any) -> HNASNet:
    """Build a preset by name (``"hnas_a_x2"``; ``"hnas-a-x2"`` also accepted)."""
    key = name.replace("-", "_")
    if key not in MODELS:
        import difflib

        close = difflib.get_close_matches(key, list(MODELS), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown model '{name}'{hint} available: {', '.join(MODELS)}")
    return MODELS[key](**kwargs)


def register_timm_models() -> list[str]:
    """Add the presets to timm's model registry (idempotent); returns the names now registered.

    Called when this module is imported; see the module docstring for why that is safe.
    """
    try:
        from timm.models import is_model, model_entrypoint, register_model
    except ImportError:  # pragma: no cover - timm is a dependency; keep hnas importable anyway
        return []
    registered = []
    for name, fn in MODELS.items():
        if is_model(name):
            existing = model_entrypoint(name)
            if existing is fn:
                registered.append(name)
                continue
            if getattr(existing, "__module__", None) != __name__:
                warnings.warn(
                    f"timm already has a model named '{name}' from {existing.__module__}; "
                    f"not replacing it (use hnas.zoo.{name}() directly)",
                    stacklevel=2,
                )
                continue
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Overwriting", category=UserWarning)
            register_model(fn)
        registered.append(name)
    return registered


__all__ = [
    "ARCHITECTURES",
    "MODELS",
    "SCALES",
    "create_model",
    "hnas_a_x2",
    "hnas_a_x3",
    "hnas_a_x4",
    "hnas_b_x2",
    "hnas_b_x3",
    "hnas_b_x4",
    "hnas_c_x2",
    "hnas_c_x3",
    "hnas_c_x4",
    "list_models",
    "register_timm_models",
]

register_timm_models()
