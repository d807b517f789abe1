"""``TrainConfig``: every setting of a training run, validated once at the boundary.

Defaults follow "Training as the authors ran it" (HNAS-REFERENCE.md): L1 loss, Adam at 1e-3 with
cosine decay to 1e-5 (``lr / 100``), batch 16, HR patches 96 (LR 48 at x2), flips and transposes,
300 epochs of 1000 iterations. An *epoch* here is the authors' (and EDSR's) fixed block of
``iters_per_epoch`` iterations, not a pass over the images: patches are drawn at random, and a
training set of a dozen photos would otherwise make an epoch shorter than one batch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hnas.errors import HnasError, first_error

#: Settings a resumed run must share with the run it continues: they decide which patches are
#: drawn, which network is built and how it is optimised, so changing one would silently make a
#: different run. The rest (length, intervals, device, workers) may change on ``--resume``.
IDENTITY_FIELDS = (
    "data", "data_split", "scale", "channels", "global_skip", "op_params", "batch", "patch", "lr", "lr_min",
    "seed", "augment", "iters_per_epoch", "select", "loss", "optimizer", "precision",
)

AUTHORS_EPOCHS = 300


class TrainConfigError(HnasError, ValueError):
    """A training setting that does not validate (names the setting)."""


class TrainingKnobs(BaseModel):
    """How a network is trained, in the words a spec's ``[retrain]``, ``hnas compare``'s recipe and
    :class:`TrainConfig` share (one definition, one validation; the loss and optimizer are
    registry nodes, :mod:`hnas.train.losses` and :mod:`hnas.train.optimizers`). The width, length and patch size
    are each model's own: their defaults differ (the paper's run against a quick comparison)."""

    minutes: float | None = Field(None, gt=0, description="Train as many iterations as fit in this many minutes of "
                                  "wall time, validation and saving included (the clock is watched while it runs; the "
                                  "cosine decays over the time spent; iters, if given, caps them).")
    batch: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0, description="Adam's learning rate, cosine to lr / 100 (or lr_min).")
    loss: str | dict[str, Any] | None = Field(None, description="A registered loss (l1, l2, charbonnier or a plugin's), "
                                              "a name or a {type, params} node; None: L1, the authors'.")
    optimizer: str | dict[str, Any] | None = Field(None, description="A registered optimizer (adam, adamw, sgd or a "
                                                   "plugin's), a name or a {type, params} node; None: Adam, the "
                                                   "authors'.")
    precision: Literal["fp32", "bf16"] | None = Field(None, description="The training forward's arithmetic: fp32 "
                                                      "(None, the default) or bf16 autocast, about 1.4x the steps per "
                                                      "second on a CPU with AVX-512 BF16; validation and the saved "
                                                      "weights stay fp32.")

    @field_validator("precision")
    @classmethod
    def _fp32_is_the_default(cls, value: str | None) -> str | None:
        # one spelling of the default, so a run started without it resumes with --precision fp32
        return None if value == "fp32" else value


class TrainConfig(TrainingKnobs):
    """Settings of one training run (see the module docstring for the defaults' origin)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str | dict[str, Any] = Field(description="Training images: a folder, builtin:NAME or a {type, params} source.")
    data_split: tuple[int, int] | tuple[float, float] | None = Field(None, description="Which of them (default all).")
    scale: int = Field(ge=1, le=8)
    channels: int = Field(64, ge=1)
    global_skip: Literal["none", "bicubic"] = "none"
    op_params: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict, description="Settings of ops "
                                                            "configured with params, by cell kind.")
    iters: int | None = Field(None, ge=1, description="Total iterations (exclusive with epochs).")
    epochs: int | None = Field(None, ge=1, description="Total epochs of iters_per_epoch iterations.")
    iters_per_epoch: int = Field(1000, ge=1)
    patch: int = Field(96, ge=2, description="HR patch side; the LR patch is patch / scale.")
    lr_min: float | None = Field(None, ge=0, description="Cosine floor; default lr / 100.")
    augment: bool = True
    val: str | dict[str, Any] | None = Field(None, description="Validation HR images (folder or builtin:NAME).")
    val_split: tuple[int, int] | tuple[float, float] | None = Field(None, description="Which of them (default all).")
    select: Literal["best", "last"] = Field("best", description="model.safetensors: best by validation PSNR, or last.")
    val_every: int = Field(1000, ge=1)
    log_every: int = Field(100, ge=1)
    save_every: int = Field(1000, ge=1, description="Iterations between resume checkpoints.")
    device: str = "auto"
    seed: int = 0
    workers: int = Field(0, ge=0)
    max_bad_steps: int = Field(5, ge=1, description="Non-finite losses in a row before stopping.")

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.iters is not None and self.epochs is not None:
            raise ValueError("give iters or epochs, not both")
        if self.patch % self.scale:
            raise ValueError(f"patch {self.patch} is not a multiple of scale {self.scale} (HR patch side)")
        if self.patch // self.scale < 2:
            raise ValueError(f"patch {self.patch} leaves an LR patch under 2 pixels at x{self.scale}")
        return self

    @property
    def total_iters(self) -> int:
        """Iterations of the whole run: ``iters``, else ``epochs * iters_per_epoch``, else 300 epochs."""
        if self.iters is not None:
            return self.iters
        return (self.epochs if self.epochs is not None else AUTHORS_EPOCHS) * self.iters_per_epoch

    @property
    def lr_floor(self) -> float:
        return self.lr / 100.0 if self.lr_min is None else self.lr_min

    @property
    def lr_patch(self) -> int:
        return self.patch // self.scale

    @classmethod
    def create(cls, **values: Any) -> TrainConfig:
        """Validate keyword settings, raising a one-line :class:`TrainConfigError`."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            loc, msg = first_error(exc)
            raise TrainConfigError(f"invalid training setting {loc + ': ' if loc else ''}{msg}") from None
