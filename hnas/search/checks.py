"""Splits that cannot leak: what a spec's images are for, checked before anything is written.

A NAS result is only worth something on images that neither the search nor the retraining saw
(Yang et al., ICLR 2020). So: the w and theta splits of the search are disjoint; the retraining's
train and validation splits are disjoint; and no evaluation image is the same picture as any image
the run trains or validates on -- compared by content (decoded pixels), not by file name, since the
same photo often sits in two folders under two names. Each problem is one line naming the images
and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnas.data import open_images, select_split
from hnas.data.overlap import check_disjoint
from hnas.data.sources import ImageRecord
from hnas.data.splits import splits_overlap
from hnas.errors import SpecError
from hnas.search.spec import Spec, Split


def source_name(source: Any) -> str:
    """How reports name a source: ``Set5`` for ``builtin:set5``, a folder's name, a node's type."""
    from hnas.data.sources import source_label

    return source_label(source)


def _images(source: Any, split: Split | None, where: str) -> list[ImageRecord]:
    return select_split(open_images(source), split, where=where)


def check_data(spec: Spec) -> dict[str, list[ImageRecord]]:
    """Open every source the spec names and refuse leaks (module docstring); returns the images
    of each role for reporting."""
    data, retrain = spec.data, spec.retrain
    search_images = open_images(data.source)
    if splits_overlap(data.w_split, data.theta_split, len(search_images)):
        raise SpecError(
            f"data.w_split {list(data.w_split)} and data.theta_split {list(data.theta_split)} overlap; the shared "
            "weights and the controller must see different images (paper: DIV2K 1-320 and 321-800)"
        )
    name = source_name(data.source)
    roles: dict[str, list[ImageRecord]] = {
        "w": select_split(search_images, data.w_split, where=f"{name} (data.w_split)"),
        "theta": select_split(search_images, data.theta_split, where=f"{name} (data.theta_split)"),
    }
    check_disjoint(roles["w"], roles["theta"], "w-split", "theta-split",
                   fix="choose data.w_split and data.theta_split so the same picture is on one side only")
    if retrain.enabled:
        source = retrain.data if retrain.data is not None else data.source
        count = len(open_images(source))
        same_source = retrain.val_data is None
        if same_source and retrain.val_split is not None and (
                retrain.train_split is None or splits_overlap(retrain.train_split, retrain.val_split, count)):
            train = "every image" if retrain.train_split is None else str(list(retrain.train_split))
            raise SpecError(
                f"retrain.train_split ({train}) and retrain.val_split {list(retrain.val_split)} overlap; "
                "validate on images the retraining does not train on"
            )
        roles["retrain"] = _images(source, retrain.train_split, f"{source_name(source)} (retrain.train_split)")
        if retrain.val_data is not None or retrain.val_split is not None:
            val_source = source if same_source else retrain.val_data
            roles["validation"] = _images(val_source, retrain.val_split, f"{source_name(val_source)} (validation)")
            check_disjoint(roles["retrain"], roles["validation"], "retraining", "validation",
                           fix="validate on pictures the retraining does not train on")
        # Validation images a checkpoint is selected on count as seen; merely watched ones do not.
        seen_roles = ("w", "theta", "retrain", "validation") if retrain.select == "best" else ("w", "theta", "retrain")
        seen = [r for role in seen_roles for r in roles.get(role, [])]
        for source in spec.evaluate.data:
            images = open_images(source)
            check_disjoint(images, seen, f"evaluation ({source_name(source)})", "training",
                           fix="evaluate on images nothing was searched or trained on")
            roles[f"evaluate:{source_name(source)}"] = images
    return roles


def describe_images(records: list[ImageRecord]) -> str:
    """A short list of image names for results (``baby.png, bird.png, ... (5 images)``)."""
    names = [Path(r.name).name for r in records]
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return f"{shown} ({len(names)} images)"
