"""Training a fixed architecture: :func:`train` / :class:`Trainer` with a :class:`TrainConfig`."""

from hnas.train.config import TrainConfig, TrainConfigError
from hnas.train.trainer import (
    LAST_FILENAME,
    LOG_FILENAME,
    RunFolderError,
    Trainer,
    TrainingDivergedError,
    train,
)

__all__ = [
    "LAST_FILENAME",
    "LOG_FILENAME",
    "RunFolderError",
    "TrainConfig",
    "TrainConfigError",
    "Trainer",
    "TrainingDivergedError",
    "train",
]
