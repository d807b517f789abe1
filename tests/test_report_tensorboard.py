"""`TensorBoardSink`: scalars a run records, read back as TensorBoard reads them."""

from __future__ import annotations

import sys

import pytest

from hnas.errors import HnasError
from hnas.report.tensorboard import TensorBoardSink


def test_records_numbers_and_skips_the_rest(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with TensorBoardSink(tmp_path / "tb") as sink:
        for epoch in (1, 2, 3):
            sink.record(
                "search",
                epoch,
                {
                    "reward_mean": 20.0 + epoch,
                    "psnr_mean": 30 + epoch,
                    "warmup": True,
                    "note": "text",
                    "val_psnr": None,
                    "bad": float("nan"),
                },
            )
        sink.record("retrain", 100, {"loss": 0.5})
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["retrain/loss", "search/psnr_mean", "search/reward_mean"]
    reward = events.Scalars("search/reward_mean")
    assert [(e.step, e.value) for e in reward] == [(1, 21.0), (2, 22.0), (3, 23.0)]


def test_missing_tensorboard_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(HnasError, match=r'pip install "hnas\[tensorboard\]"'):
        TensorBoardSink(tmp_path / "tb")
