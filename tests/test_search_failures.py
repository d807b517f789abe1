"""A search that diverges stops with one line and keeps its last good checkpoint."""

import pytest
import torch

from hnas.engine.state import load_state
from hnas.errors import HnasError
from hnas.search.algorithm import STATE_FILE
from hnas.search.pipeline import run_spec
from hnas.search.spec_loader import load_spec


def test_nan_losses_stop_the_search_with_a_message(tmp_path, small_images, tiny_spec, monkeypatch):
    spec = load_spec(tiny_spec(tmp_path, small_images, epochs=3))
    out = tmp_path / "run"
    from hnas.search.supernet import SuperNet

    forward = SuperNet.forward
    calls = {"n": 0}

    def poisoned(self, x, genotype):
        y = forward(self, x, genotype)
        calls["n"] += 1
        # epoch 1 trains normally (2 w steps + 3 scoring passes); afterwards every output is NaN
        return y * float("nan") if calls["n"] > 5 and torch.is_grad_enabled() else y

    monkeypatch.setattr(SuperNet, "forward", poisoned)
    with pytest.raises(HnasError, match="epoch 2: every training loss was NaN/inf"):
        run_spec(spec, out)
    state = load_state(out / STATE_FILE)
    assert state.info["epoch"] == 1  # the last good checkpoint is kept
    assert all(torch.isfinite(t).all() for t in state.group("supernet").values())
