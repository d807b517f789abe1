"""The learned fidelity: architecture features and the ridge predictor over them."""

from __future__ import annotations

import pytest
import torch

import hnas
from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING
from hnas.spaces.codec import SpaceCodec
from hnas.strategies.predictor import RidgePredictor, architecture_features, standardise_within


def test_features_count_ops_position_depth_and_cost():
    genotype = hnas.resolve_genotype("hnas-a")
    features = architecture_features(genotype, TABLE_I_NORMAL, TABLE_I_UPSAMPLING, macs=1e9, params=1e5)
    normal = [edge.op for edge in genotype.normal.edges]
    assert features[:len(TABLE_I_NORMAL)] == [normal.count(op) / len(normal) for op in TABLE_I_NORMAL]
    assert features[-3:] == pytest.approx([genotype.position / genotype.layers, 20.7232658, 11.5129255])
    assert len(features) == len(TABLE_I_NORMAL) + len(TABLE_I_UPSAMPLING) + 5


def test_the_predictor_recovers_a_score_the_features_determine():
    codec = SpaceCodec(TABLE_I_NORMAL, TABLE_I_UPSAMPLING, nodes=4, layers=6)
    generator = torch.Generator().manual_seed(0)
    genotypes = [codec.uniform(generator) for _ in range(60)]
    rows = [architecture_features(g, TABLE_I_NORMAL, TABLE_I_UPSAMPLING, 1e9 * (1 + i % 7), 1e5) for i, g in
            enumerate(genotypes)]
    # a score that rises with skips and falls with MACs, plus a little noise
    truth = [3 * row[TABLE_I_NORMAL.index("skip_connect")] - row[-2] for row in rows]
    noisy = [t + 0.01 * ((i * 7919) % 13 - 6) / 6 for i, t in enumerate(truth)]
    model = RidgePredictor(alpha=0.1).fit(rows[:40], noisy[:40])
    predicted = model.predict(rows[40:])
    assert torch.corrcoef(torch.tensor([predicted, truth[40:]]))[0, 1] > 0.95


def test_scores_are_standardised_within_their_search():
    z = standardise_within([30.0, 31.0, 32.0, 10.0, 10.5, 11.0], [0, 0, 0, 1, 1, 1])
    assert z == pytest.approx([-1, 0, 1, -1, 0, 1])


def test_misuse_is_one_line():
    with pytest.raises(RuntimeError, match="fit the predictor"):
        RidgePredictor().predict([[1.0]])
    with pytest.raises(ValueError, match="at least 2"):
        RidgePredictor().fit([[1.0]], [1.0])
    with pytest.raises(ValueError, match="alpha"):
        RidgePredictor(alpha=-1)
