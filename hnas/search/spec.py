"""The experiment spec: one TOML file drives search -> derive -> retrain -> evaluate.

Validated by pydantic with ``extra="forbid"``, so a typo in a key is an error naming the key.
Defaults are the paper's and the authors' settings (supplementary B, HNAS-REFERENCE.md); the
example specs shrink them for a CPU.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hnas.errors import SpecError, first_error
from hnas.registry import CONTROLLERS, COSTS, NORMAL_OPS, REWARDS, UPSAMPLING_OPS
from hnas.utils.compat import tomllib
from hnas.utils.io import read_structured


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SpaceSpec(_Section):
    """The search space (paper Sec. II-A): ops per cell type, nodes, layers, search width."""

    layers: int = Field(12, ge=1, le=64)
    nodes: int = Field(4, ge=1, le=8)
    channels: int = Field(8, ge=1, le=512, description="channels per op while searching (paper: 8)")
    scale: int = Field(2, ge=2, le=8)
    normal_ops: list[str] | None = Field(None, description="default: every registered normal op")
    upsampling_ops: list[str] | None = Field(None, description="default: every registered upsampling op")
    global_skip: Literal["none", "bicubic"] = "none"

    @field_validator("normal_ops", "upsampling_ops")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("needs at least one op (or leave it out for all registered ops)")
        return value

    def resolved_normal_ops(self) -> list[str]:
        names = self.normal_ops or NORMAL_OPS.names()
        return list(dict.fromkeys(NORMAL_OPS.canonical(n) for n in names))

    def resolved_upsampling_ops(self) -> list[str]:
        names = self.upsampling_ops or UPSAMPLING_OPS.names()
        return list(dict.fromkeys(UPSAMPLING_OPS.canonical(n) for n in names))


class DataSpec(_Section):
    """Where images come from and how they are cut (paper: DIV2K 1-320 for w, 321-800 for theta)."""

    source: str = Field("builtin:skimage", description="folder, DIV2K root, or builtin:skimage")
    w_split: tuple[int, int] | tuple[float, float] = Field(
        (0.0, 0.4), description="images training w: 1-based indices [1, 320] or fractions [0.0, 0.4]"
    )
    theta_split: tuple[int, int] | tuple[float, float] = Field(
        (0.4, 1.0), description="images training the controller: [321, 800] or [0.4, 1.0]"
    )
    patch: int = Field(96, ge=8, description="HR patch size")
    batch: int = Field(16, ge=1)
    val_batch: int = Field(16, ge=1, description="patches per controller reward batch")
    workers: int | None = Field(None, ge=0, description="DataLoader workers (default: chosen by the loader)")

    @field_validator("w_split", "theta_split")
    @classmethod
    def _ranges(cls, value: tuple[Any, Any]) -> tuple[Any, Any]:
        lo, hi = value
        if all(isinstance(v, int) for v in value):
            if not 1 <= lo <= hi:
                raise ValueError(f"image indices are 1-based and inclusive: [first, last], got {list(value)}")
        elif not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"fractions are [start, end) with 0 <= start < end <= 1, got {list(value)}")
        return value


class ControllerSpec(_Section):
    """The architecture sampler and its REINFORCE update (HNAS-REFERENCE.md, "Controller").

    The entropy bonus defaults to the authors' loss-term form with ENAS's small weight (1e-4): the
    summed entropy of the 33 decisions is about 50 nats, so the paper's "added to the reward,
    weighted by 1" would shift every reward by ~50 against PSNR differences of tenths of a dB and
    keep the policy near uniform. ``entropy_mode = "reward"`` with ``entropy_weight = 1`` is the
    paper's literal reading.
    """

    type: str = "hierarchical_lstm"
    params: dict[str, Any] = Field(default_factory=dict, description="constructor options of the controller")
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(5e-4, ge=0, description="Adam L2 decay of the controller (authors: 5e-4)")
    entropy_weight: float = Field(1e-4, ge=0, description="weight of the entropy bonus (see below)")
    entropy_mode: Literal["loss", "reward"] = Field(
        "loss",
        description="'loss': -w * entropy in the policy loss (the authors' code); "
        "'reward': w * entropy added to the reward (paper supp. B, with w = 1)",
    )
    baseline_decay: float = Field(0.95, ge=0, lt=1)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        return CONTROLLERS.canonical(value)


class RewardSpec(_Section):
    """The reward (paper Eq. 1): ``lambda`` trades PSNR against cost; ``lambdas`` runs a sweep."""

    type: str = "joint"
    lambda_: float | None = Field(0.6, alias="lambda", ge=0, le=1)
    lambdas: list[float] | None = Field(None, description="one search per value, one combined Pareto report")
    cost: str = "macs"
    cost_input: tuple[int, int] = Field((480, 480), description="LR size the cost is measured at")
    params: dict[str, Any] = Field(default_factory=dict, description="other options of the reward")

    @field_validator("type")
    @classmethod
    def _known_reward(cls, value: str) -> str:
        return REWARDS.canonical(value)

    @field_validator("cost")
    @classmethod
    def _known_cost(cls, value: str) -> str:
        return COSTS.canonical(value)

    @field_validator("lambdas")
    @classmethod
    def _lambdas_in_range(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if not value:
                raise ValueError("needs at least one value")
            for lam in value:
                if not 0 <= lam <= 1:
                    raise ValueError(f"every lambda must be in [0, 1], got {lam}")
        return value


class SearchSpec(_Section):
    """Algorithm 1's loop sizes and the shared-weight optimiser (paper supp. B)."""

    epochs: int = Field(400, ge=1)
    w_steps: int = Field(100, ge=1, description="shared-weight updates per epoch")
    controller_steps: int = Field(50, ge=1, description="controller updates per epoch")
    lr: float = Field(1e-3, gt=0)
    lr_min: float = Field(1e-5, ge=0)
    grad_clip: float | None = Field(5.0, gt=0)
    derive_samples: int = Field(10, ge=0, description="architectures sampled at derivation (plus the greedy one)")
    derive_batches: int = Field(4, ge=1, description="validation batches scoring each derived candidate")


class RetrainSpec(_Section):
    """Training the chosen architecture from scratch (paper: C = 64, 300 x 1000 iterations)."""

    enabled: bool = True
    channels: int = Field(64, ge=1)
    iters: int = Field(300_000, ge=1)
    batch: int = Field(16, ge=1)
    patch: int = Field(96, ge=8)
    lr: float = Field(1e-3, gt=0)
    global_skip: Literal["none", "bicubic"] | None = Field(None, description="default: the space's")
    val_every: int = Field(1000, ge=1)


class EvaluateSpec(_Section):
    """Benchmark folders the retrained model is scored on (PSNR/SSIM, Y channel)."""

    data: list[str] = Field(default_factory=list, description="HR folders; empty: the held-out images")


class Spec(_Section):
    """A whole experiment. ``hnas run spec.toml`` executes it."""

    name: str = "hnas"
    seed: int = 0
    device: str = "auto"
    plugins: list[str] = Field(default_factory=list, description="modules imported before validation")
    space: SpaceSpec = Field(default_factory=SpaceSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    controller: ControllerSpec = Field(default_factory=ControllerSpec)
    reward: RewardSpec = Field(default_factory=RewardSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    retrain: RetrainSpec = Field(default_factory=RetrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)

    @model_validator(mode="after")
    def _check_ops(self) -> Spec:
        self.space.resolved_normal_ops()
        self.space.resolved_upsampling_ops()
        return self

    def lambdas(self) -> list[float]:
        """The lambda of each search this spec runs (one, or the sweep)."""
        if self.reward.lambdas:
            return list(self.reward.lambdas)
        if self.reward.lambda_ is None:
            raise SpecError("reward: give lambda or lambdas")
        return [self.reward.lambda_]

    def for_lambda(self, value: float) -> Spec:
        """This spec with a single lambda (one member of a sweep)."""
        reward = self.reward.model_copy(update={"lambda_": value, "lambdas": None})
        return self.model_copy(update={"reward": reward})

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2)


# -- loading --------------------------------------------------------------------------------------
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


def import_plugins(modules: list[str]) -> None:
    """Import the modules a spec names explicitly (their decorators register ops, rewards, ...)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise SpecError(f"plugin '{name}' could not be imported: {exc}") from None


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc, msg = first_error(exc)
    if err["type"] == "extra_forbidden":
        return f"unknown key '{loc}' (check the spelling; see examples/quickstart.toml for the keys)"
    value = err.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
    return f"{loc}: {msg}{shown}"


def spec_from_dict(data: dict[str, Any], source: str = "spec") -> Spec:
    plugins = data.get("plugins", [])
    if isinstance(plugins, list) and all(isinstance(p, str) for p in plugins):
        import_plugins(plugins)
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{source}: {_describe(exc)}") from None


def load_spec(path: str | Path, overrides: list[str] | None = None) -> Spec:
    """Read, override and validate a TOML spec; every problem is a one-line :class:`SpecError`."""
    data = read_structured(path, "spec file", SpecError, toml=True)
    return spec_from_dict(apply_overrides(data, overrides or []), source=str(path))
