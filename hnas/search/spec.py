"""The experiment spec: one TOML file drives search -> derive -> retrain -> evaluate.

Every pluggable concept is a registry node ``{type = NAME, params = {...}}`` (BasicSR's and
mmengine's shape): ops (a bare name is a node without params), cell types, the controller, the
reward, the cost, data sources. Nothing is injected into a node's params behind the user's back,
and :func:`hnas.search.spec_loader.check_spec` builds every component once, so a wrong name or param is one line before
any run folder exists. ``reward.lambda`` is kept as the shorthand for the joint reward's
``params.lambda`` (and ``reward.lambdas`` runs one search per value).

Validated by pydantic with ``extra="forbid"``, so a typo in a key is an error naming the key.
Defaults are the paper's and the authors' settings (supplementary B, HNAS-REFERENCE.md); the
example specs shrink them for a CPU.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hnas.errors import SpecError
from hnas.nodes import Node
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS, Registry
from hnas.train.config import TrainingKnobs

Split = tuple[int, int] | tuple[float, float]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


#: A registry node in a spec (``{type, params}`` or a bare name): the one node model, :class:`hnas.nodes.Node`.
Component = Node


def _check_split(value: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
    if value is None:
        return value
    lo, hi = value
    if all(isinstance(v, int) for v in value):
        if not 1 <= lo <= hi:
            raise ValueError(f"image indices are 1-based and inclusive: [first, last], got {list(value)}")
    elif not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"fractions are [start, end) with 0 <= start < end <= 1, got {list(value)}")
    return value


class SpaceSpec(_Section):
    """The search space (paper Sec. II-A): cell types, ops per cell type, nodes, layers, width."""

    layers: int = Field(12, ge=1, le=64)
    nodes: int = Field(4, ge=1, le=8)
    channels: int = Field(8, ge=1, le=512, description="channels per op while searching (paper: 8)")
    scale: int = Field(2, ge=2, le=8)
    normal_cell: Component = Field(default_factory=lambda: Component(type="normal"))
    upsampling_cell: Component = Field(default_factory=lambda: Component(type="upsampling"))
    normal_ops: list[Component] | None = Field(None, description="default: the paper's seven (Table I)")
    upsampling_ops: list[Component] | None = Field(None, description="default: the paper's five (Table I)")
    global_skip: Literal["none", "bicubic"] = "none"

    @field_validator("normal_ops", "upsampling_ops")
    @classmethod
    def _non_empty(cls, value: list[Component] | None) -> list[Component] | None:
        if value is not None and not value:
            raise ValueError("needs at least one op (or leave it out for all registered ops)")
        return value

    def _ops(self, nodes: list[Component] | None, registry: Registry[Any]) -> list[Component]:
        from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING

        default = TABLE_I_NORMAL if registry is NORMAL_OPS else TABLE_I_UPSAMPLING
        chosen = nodes if nodes is not None else [Component(type=name) for name in default]
        resolved = [node.canonical(registry) for node in chosen]
        names = [node.type for node in resolved]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SpecError(f"space: {registry.kind} list {', '.join(repeated)} more than once; list each op once")
        return resolved

    def resolved_normal_ops(self) -> list[str]:
        return [node.type for node in self._ops(self.normal_ops, NORMAL_OPS)]

    def resolved_upsampling_ops(self) -> list[str]:
        return [node.type for node in self._ops(self.upsampling_ops, UPSAMPLING_OPS)]

    def op_params(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The ops' settings by cell kind, ``{"normal": {"rcab": {"reduction": 3}}}`` (non-empty only)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for kind, nodes, registry in (("normal", self.normal_ops, NORMAL_OPS),
                                      ("upsampling", self.upsampling_ops, UPSAMPLING_OPS)):
            params = {node.type: dict(node.params) for node in self._ops(nodes, registry) if node.params}
            if params:
                out[kind] = params
        return out

    def cell_types(self) -> tuple[str, str]:
        return CELLS.canonical(self.normal_cell.type), CELLS.canonical(self.upsampling_cell.type)


class DataSpec(_Section):
    """Search images (paper: DIV2K 1-320 train w, 321-800 train the controller) and their cutting."""

    source: str | dict[str, Any] = Field("builtin:skimage", description="folder, DIV2K root, builtin:NAME or {type, params}")
    w_split: Split = Field((0.0, 0.4), description="images training w: 1-based indices [1, 320] or fractions [0.0, 0.4]")
    theta_split: Split = Field((0.4, 1.0), description="images scoring architectures for the controller")
    patch: int = Field(96, ge=8, description="HR patch size of the weight batches")
    batch: int = Field(16, ge=1)
    score_patches: int = Field(32, ge=1, description="fixed patches from the theta split every architecture is scored on")
    score_patch: int = Field(96, ge=8, description="HR side of a scoring patch")

    _splits = field_validator("w_split", "theta_split")(_check_split)


class ControllerSpec(_Section):
    """The search strategy: ``hierarchical_lstm`` (the paper's, trained by REINFORCE), ``random``
    (the paper's Random baseline) or ``evolution`` (regularized evolution); its settings, the
    REINFORCE ones included, are its ``params`` (``hnas list controllers``)."""

    type: str = "hierarchical_lstm"
    params: dict[str, Any] = Field(default_factory=dict, description="constructor options of the controller")


class RewardSpec(_Section):
    """How PSNR and cost make the reward (paper Eq. 1): ``joint`` with ``lambda``, or ``budget``."""

    type: str = "joint"
    lambda_: float | None = Field(None, alias="lambda", ge=0, le=1, description="shorthand for params.lambda")
    lambdas: list[float] | None = Field(None, description="one search per value, one combined Pareto report")
    params: dict[str, Any] = Field(default_factory=dict, description="the reward's settings")

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

    def resolved_params(self) -> dict[str, Any]:
        """``params`` with the ``lambda`` shorthand folded in (both given: they must agree)."""
        params = dict(self.params)
        if self.lambda_ is not None:
            if "lambda" in params and params["lambda"] != self.lambda_:
                raise SpecError(f"reward: lambda = {self.lambda_} and params.lambda = {params['lambda']} disagree; "
                                "give one")
            params["lambda"] = self.lambda_
        return params


class CostSpec(_Section):
    """The cost the reward prices (paper Eq. 1's Cost), at the search width and this LR input."""

    type: str = "macs"
    params: dict[str, Any] = Field(default_factory=dict)
    input: tuple[int, int] = Field((480, 480), description="LR input size the cost is measured at (paper: 480x480)")


class ProxySpec(_Section):
    """Derivation by a short stand-alone training instead of the shared weights (``iters = 0``: off).

    Every candidate is trained alone from the same seeded start, for ``iters`` steps on identical
    batches of the w split, and scored on the fixed scoring images; the reward then prices that
    PSNR. Shared-weight scores favour the architectures the supernet trained most (evolution's
    population, early upsampling); a stand-alone proxy gives every candidate the same training.
    ``uniform`` adds that many uniform draws to the candidates, so that a controller which
    converged on what the shared weights overrate can still be outscored by the space at large.
    """

    iters: int = Field(0, ge=0, description="training steps per candidate (0: score with the shared weights)")
    batch: int = Field(16, ge=1)
    patch: int = Field(48, ge=8, description="HR patch side")
    lr: float = Field(1e-3, gt=0, description="Adam, cosine to lr/100")
    uniform: int = Field(0, ge=0, description="uniform draws over the space trained and scored beside the "
                                              "controller's candidates")
    finalists: int = Field(0, ge=0, description="the best this many of the short round are trained again for "
                                                "final_iters steps and the pick is made among them (0: off)")
    final_iters: int = Field(1000, ge=1, description="training steps of a finalist")

    @model_validator(mode="after")
    def _final_round_is_longer(self) -> ProxySpec:
        if self.finalists and not self.iters:
            raise ValueError(f"search.proxy.finalists = {self.finalists} needs a short round first: set search.proxy.iters > 0")
        if self.finalists and self.final_iters <= self.iters:
            raise ValueError(f"search.proxy.final_iters = {self.final_iters} must exceed search.proxy.iters = "
                             f"{self.iters}: the finalists' round is the longer one")
        return self


class SearchSpec(_Section):
    """Algorithm 1's loop sizes and the shared-weight optimiser (paper supp. B)."""

    epochs: int = Field(400, ge=1)
    warmup_epochs: int = Field(0, ge=0, description="epochs of uniformly sampled weight training before the "
                                                    "controller acts (ENAS/SPOS practice)")
    w_steps: int = Field(100, ge=1, description="shared-weight updates per epoch")
    controller_steps: int = Field(50, ge=1, description="controller updates per epoch")
    lr: float = Field(1e-3, gt=0)
    lr_min: float = Field(1e-5, ge=0)
    grad_clip: float | None = Field(5.0, gt=0)
    derive_samples: int = Field(10, ge=0, description="architectures sampled at derivation (plus the controller's own picks)")
    proxy: ProxySpec = Field(default_factory=ProxySpec, description="how derivation scores its candidates")

    @model_validator(mode="after")
    def _warmup_fits(self) -> SearchSpec:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs}): the "
                             "controller needs at least one epoch")
        return self


class StrategySpec(_Section):
    """A search strategy on stand-alone training (:mod:`hnas.strategies`), in place of the paper's
    shared-weight search: ``hnas run`` then skips ``[search]``'s epochs and derivation, and the
    strategy's pick is retrained. Candidates train with ``search.proxy``'s batch, patch and lr;
    with ``--nproc N`` the candidates of a round (a rung, a pool) are dealt over the processes.
    """

    type: str = Field(description="a registered strategy: successive_halving, random_search, controller, ...")
    params: dict[str, Any] = Field(default_factory=dict)
    budget_steps: int = Field(ge=1, description="stand-alone training steps over all candidates: two strategies "
                                                "with the same budget are compared at equal cost")
    band: tuple[float, float] | None = Field(
        None, description="[low, high] MACs at cost.input (or the [cost]'s unit, band_by = 'cost'): candidates are "
                          "drawn uniformly within it (None: the whole space)")
    band_by: Literal["macs", "cost"] = Field(
        "macs", description="what band is in: MACs at cost.input, or the spec's [cost] (e.g. ms under latency_table)")
    threads: int | None = Field(
        None, ge=1, description="CPU threads each candidate trains on (None: the process's). Fixed, a run with "
                                "--nproc N writes the same scores as one process (float sums depend on the threads)")

    @field_validator("band")
    @classmethod
    def _band_is_a_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 < value[0] < value[1]:
            raise ValueError(f"strategy.band is [low, high] MACs with 0 < low < high, got {list(value)}")
        return value


class RetrainSpec(_Section, TrainingKnobs):
    """Training the chosen architecture from scratch (paper: C = 64, 300 x 1000 iterations).

    ``train_split`` picks the training images of ``data`` (default: the search's source);
    validation images are ``val_data`` (default: ``data``) restricted to ``val_split``, and must not
    be trained on. ``select = "best"`` evaluates the checkpoint with the best validation PSNR (the
    validation images then count as seen: evaluation sets must differ from them); ``"last"``
    evaluates the last weights, validation only being watched (e.g. Set5 against wall time).
    """

    enabled: bool = True
    data: str | dict[str, Any] | None = Field(None, description="default: data.source")
    train_split: Split | None = Field(None, description="default: every image")
    val_data: str | dict[str, Any] | None = Field(None, description="validation source (default: data)")
    val_split: Split | None = Field(None, description="validation images of val_data")
    select: Literal["best", "last"] = Field("best", description="which checkpoint is evaluated")
    channels: int = Field(64, ge=1)
    iters: int = Field(300_000, ge=1)
    patch: int = Field(96, ge=8)
    global_skip: Literal["none", "bicubic"] | None = Field(None, description="default: the space's")
    val_every: int = Field(1000, ge=1)

    _splits = field_validator("train_split", "val_split")(_check_split)


class EvaluateSpec(_Section):
    """Benchmark sets the retrained model is scored on (PSNR/SSIM, Y channel); never trained on."""

    data: list[str | dict[str, Any]] = Field(
        default_factory=lambda: ["builtin:set5", "builtin:set14"], description="HR folders or builtin:NAME"
    )


class Spec(_Section):
    """A whole experiment. ``hnas run spec.toml`` executes it."""

    name: str = "hnas"
    seed: int = 0
    device: str = "auto"
    budget_minutes: float | None = Field(
        None, gt=0, description="wall time of the whole hnas run, start-up included: the search and derivation take "
        "what they take, the retraining gets what is left less a measured evaluation time (retrain.minutes and "
        "retrain.iters, if given, cap it)")
    plugins: list[str] = Field(default_factory=list, description="modules imported before validation")
    space: SpaceSpec = Field(default_factory=SpaceSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    controller: ControllerSpec = Field(default_factory=ControllerSpec)
    reward: RewardSpec = Field(default_factory=RewardSpec)
    cost: CostSpec = Field(default_factory=CostSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    strategy: StrategySpec | None = Field(None, description="a stand-alone search strategy instead of [search]")
    retrain: RetrainSpec = Field(default_factory=RetrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)

    @model_validator(mode="after")
    def _budget_has_a_retraining(self) -> Spec:
        if self.budget_minutes is not None and self.reward.lambdas:
            raise ValueError("budget_minutes applies to one search; a lambda sweep (reward.lambdas) runs several: "
                             "give each lambda its own run, or drop budget_minutes")
        if self.budget_minutes is not None and not self.retrain.enabled:
            raise ValueError("budget_minutes sets the retraining's time, but retrain.enabled is false: drop one")
        return self

    def lambdas(self) -> list[float | None]:
        """The lambda of each search this spec runs: the sweep's, else the one (or None)."""
        if self.reward.lambdas:
            return list(self.reward.lambdas)
        return [self.reward.resolved_params().get("lambda")]

    def for_lambda(self, value: float) -> Spec:
        """This spec with a single lambda (one member of a sweep)."""
        reward = self.reward.model_copy(update={"lambda_": value, "lambdas": None})
        return self.model_copy(update={"reward": reward})

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


__all__ = [
    "Component",
    "ControllerSpec",
    "CostSpec",
    "DataSpec",
    "EvaluateSpec",
    "RetrainSpec",
    "RewardSpec",
    "SearchSpec",
    "SpaceSpec",
    "Spec",
    "StrategySpec",
]

