"""A learned fidelity: predict an architecture's score from what it is made of.

Stand-alone training is the fidelity that ranks architectures (``docs/results/fidelity-tau.json``),
and it costs steps. A predictor trained on the scores seen so far prices the next candidates for
nothing (White et al., "How powerful are performance predictors in NAS?", NeurIPS 2021: simple
feature-based models are strong at small sample sizes). The features are the ones the issue names
and the space makes cheap: how often each op appears in each cell, how many edges are skips,
where the upsampling cell sits (as a share of the depth), how deep the nodes read (mean input
index), and log MACs and log parameters. The model is ridge regression on standardised features,
closed form, deterministic: a few hundred architectures fit in milliseconds.

Scores from different scoring sets (a search at another seed scores on other patches) are not on
one scale; :func:`standardise_within` puts each group on its own z-scale before they are pooled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from hnas.spaces.genotype import Genotype


def architecture_features(genotype: Genotype, normal_ops: Sequence[str], upsampling_ops: Sequence[str],
                          macs: float, params: float) -> list[float]:
    """The feature vector of one architecture (see the module docstring), in a fixed order."""
    features: list[float] = []
    for cell, ops in ((genotype.normal, normal_ops), (genotype.upsampling, upsampling_ops)):
        edges = cell.edges
        names = [edge.op for edge in edges]
        features += [names.count(op) / len(edges) for op in ops]
        features.append(sum(edge.target - edge.source for edge in edges) / len(edges))  # how far back nodes read
    features.append(genotype.position / genotype.layers)
    features += [math.log(macs), math.log(params)]
    return features


def standardise_within(scores: Sequence[float], groups: Sequence[object]) -> list[float]:
    """Each score as a z-score within its group (one group: one scoring set)."""
    out = [0.0] * len(scores)
    for group in dict.fromkeys(groups):
        index = [i for i, g in enumerate(groups) if g == group]
        values = torch.tensor([scores[i] for i in index], dtype=torch.float64)
        spread = float(values.std()) if len(index) > 1 else 0.0
        for i, value in zip(index, values.tolist()):
            out[i] = (value - float(values.mean())) / spread if spread > 0 else 0.0
    return out


class RidgePredictor:
    """Ridge regression from :func:`architecture_features` to a score; ``alpha`` is the penalty on
    the standardised weights (the intercept is not penalised)."""

    def __init__(self, alpha: float = 1.0) -> None:
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        self.alpha = float(alpha)
        self._mean: torch.Tensor | None = None
        self._scale: torch.Tensor | None = None
        self._weights: torch.Tensor | None = None
        self._intercept = 0.0

    def fit(self, features: Sequence[Sequence[float]], scores: Sequence[float]) -> RidgePredictor:
        x = torch.tensor(features, dtype=torch.float64)
        y = torch.tensor(scores, dtype=torch.float64)
        if x.ndim != 2 or len(x) != len(y) or len(y) < 2:
            raise ValueError(f"need at least 2 (features, score) pairs of one width, got {tuple(x.shape)} and {len(y)}")
        self._mean = x.mean(0)
        self._scale = x.std(0).clamp_min(1e-12)
        z = (x - self._mean) / self._scale
        self._intercept = float(y.mean())
        gram = z.T @ z + self.alpha * torch.eye(z.shape[1], dtype=torch.float64)
        self._weights = torch.linalg.solve(gram, z.T @ (y - self._intercept))
        return self

    def predict(self, features: Sequence[Sequence[float]]) -> list[float]:
        if self._weights is None or self._mean is None or self._scale is None:
            raise RuntimeError("fit the predictor before predicting")
        z = (torch.tensor(features, dtype=torch.float64) - self._mean) / self._scale
        return (z @ self._weights + self._intercept).tolist()
