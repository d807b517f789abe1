"""What a cost is measured under: LR input size, scale, width, and (for latency) the device.

A cost of a genotype is only meaningful with these settings stated: the paper's Table II FLOPs are
taken at a 3 x 480 x 480 LR input (Sec. III-A) and at the retraining width (C = 64), while the
search reward takes them at the search width (C = 8; HNAS-REFERENCE.md, "Reward and cost"). Every
cost and every cached value is therefore keyed by a :class:`CostSettings`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hnas.errors import HnasError, first_error

#: The LR input Table II's FLOPs are quoted for (paper Sec. III-A: "a 3 x 480 x 480 input LR image").
TABLE_II_INPUT = (480, 480)

_SIZE = re.compile(r"^\s*(\d+)\s*(?:[xX\u00d7*,]\s*(\d+))?\s*$")


class CostSettingsError(HnasError, ValueError):
    """Settings for a cost that cannot be used (a malformed input size, a negative width...)."""


def parse_input_size(value: Any) -> tuple[int, int]:
    """``"480x480"``, ``"48"`` (square), ``48``, ``(48, 32)`` or ``[48, 32]`` -> ``(H, W)``.

    Raises :class:`CostSettingsError` with a one-line message for anything else (``"48xx"``).
    """
    if isinstance(value, bool):
        raise CostSettingsError(f"input size must be HxW (e.g. 480x480), got {value!r}")
    if isinstance(value, int):
        size: tuple[int, ...] = (value, value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise CostSettingsError(
                f"input size must be HxW with positive integers, e.g. 480x480; got {value!r}"
            )
        height = int(match.group(1))
        size = (height, int(match.group(2)) if match.group(2) else height)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        size = (int(value[0]), int(value[1]))
    else:
        raise CostSettingsError(f"input size must be HxW (e.g. 480x480) or a pair of integers, got {value!r}")
    if min(size) < 1:
        raise CostSettingsError(f"input size must be positive, got {size[0]}x{size[1]}")
    return size[0], size[1]


class CostSettings(BaseModel):
    """The conditions a cost is measured under; frozen and hashable, so it can key the cache.

    ``input`` is the LR input (H, W); ``scale``, ``channels`` (C, the width per op), ``global_skip``
    and ``op_params`` (settings of ops configured with params, as canonical JSON; a dict is
    accepted) select the derived network as :func:`hnas.models.build_model` builds it. ``device``, ``threads``,
    ``repeats``, ``warmup`` and ``batch`` matter only to ``latency``; each cost declares which
    fields change its value, so e.g. ``params`` is cached independently of the input size.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: tuple[int, int] = TABLE_II_INPUT
    scale: int = Field(2, ge=1)
    channels: int = Field(64, ge=1)
    global_skip: Literal["none", "bicubic"] = "none"
    op_params: str = "{}"
    device: str = "cpu"
    threads: int | None = Field(None, ge=1)
    repeats: int = Field(20, ge=1)
    warmup: int = Field(3, ge=0)
    batch: int = Field(1, ge=1)

    @field_validator("input", mode="before")
    @classmethod
    def _parse_input(cls, value: Any) -> tuple[int, int]:
        try:
            return parse_input_size(value)
        except CostSettingsError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("op_params", mode="before")
    @classmethod
    def _canonical_op_params(cls, value: Any) -> str:
        from hnas.models.network import clean_op_params

        data = json.loads(value) if isinstance(value, str) else value
        return json.dumps(clean_op_params(data), sort_keys=True, separators=(",", ":"))

    @property
    def op_params_dict(self) -> dict[str, Any]:
        return json.loads(self.op_params)  # type: ignore[no-any-return]

    @classmethod
    def make(cls, base: CostSettings | None = None, **overrides: Any) -> CostSettings:
        """``base`` (or the defaults) with ``overrides`` applied, validated; errors are one line."""
        if base is not None and not overrides:
            return base
        data = base.model_dump() if base is not None else {}
        data.update(overrides)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            where, message = first_error(exc)
            raise CostSettingsError(f"cost setting {where}: {message}") from None

    def key(self, fields: tuple[str, ...]) -> tuple[Any, ...]:
        """The values of ``fields``, in order: the part of these settings a cost depends on."""
        return tuple(getattr(self, name) for name in fields)

    def describe(self) -> str:
        return f"{self.input[0]}x{self.input[1]} LR input, x{self.scale}, C={self.channels}"
