"""spandrel support: apps that open SR models through spandrel (ComfyUI, chaiNNer, ...) load hnas files.

spandrel finds a file's architecture from its tensors alone (it drops a safetensors header), so an
hnas model file carries its architecture as the tensor :data:`~hnas.checkpoint.CONFIG_TENSOR`
(:func:`hnas.save_model` writes it; so does every ``.pth`` that BasicSR saves of an hnas network,
and :func:`hnas.integrations.basicsr.to_basicsr`). A file keeps loading whatever it is renamed to,
as long as its extension says what it holds (``.safetensors`` or ``.pth``).

An app registers hnas once, before loading models::

    import spandrel
    from hnas.integrations.spandrel import HNAS_SUPPORT

    spandrel.MAIN_REGISTRY.add(HNAS_SUPPORT)        # or: hnas.integrations.spandrel.register()
    model = spandrel.ModelLoader().load_from_file("my_hnas_x2.safetensors")
    sr = model(image)                                # 1 x 3 x H x W in 0..1 -> 1 x 3 x 2H x 2W in 0..1

The descriptor's ``model`` is a :class:`~hnas.integrations.unit_range.UnitRangeHNASNet` (0..1 in and
out, spandrel's convention); the file's plugin ops must be importable (its error names them).
"""

from __future__ import annotations

from typing import Any

from spandrel import (
    MAIN_REGISTRY,
    Architecture,
    ArchRegistry,
    ArchSupport,
    ImageModelDescriptor,
    ModelTiling,
    SizeRequirements,
    StateDict,
)

from hnas.checkpoint import CONFIG_TENSOR, check_state_dict, config_from_tensor, model_from_metadata
from hnas.errors import CheckpointError
from hnas.integrations.unit_range import UnitRangeHNASNet

__all__ = ["HNAS_ARCHITECTURE", "HNAS_SUPPORT", "HNASArch", "register"]

#: spandrel's id (and name) for hnas networks.
ARCH_ID = "HNAS"


def _detect(state_dict: StateDict) -> bool:
    """An hnas state dict holds a readable :data:`CONFIG_TENSOR`; no other architecture has that key."""
    if CONFIG_TENSOR not in state_dict:
        return False
    try:
        config_from_tensor(state_dict[CONFIG_TENSOR])
    except CheckpointError:
        return False
    return True


class HNASArch(Architecture[UnitRangeHNASNet]):
    """spandrel's description of hnas networks: detection by the config tensor, loading by its genotype."""

    def __init__(self) -> None:
        super().__init__(id=ARCH_ID, name="HNAS", detect=_detect)

    def load(self, state_dict: StateDict) -> ImageModelDescriptor[UnitRangeHNASNet]:
        """Rebuild the network the config tensor describes and load the weights strictly.

        A tensor that does not fit is a one-line :class:`~hnas.errors.CheckpointError`; spandrel
        itself would raise torch's many-line ``load_state_dict`` message.
        """
        source = "hnas weights (spandrel)"
        meta = config_from_tensor(state_dict.get(CONFIG_TENSOR), source=source)
        net = model_from_metadata(meta, source=source, network_class=UnitRangeHNASNet)
        check_state_dict(net, state_dict, source=source)
        config = net.config()
        tags = [f"{config['channels']}nf", f"{net.genotype.layers}l"]
        if config["global_skip"] != "none":
            tags.append(f"{config['global_skip']}-skip")
        return ImageModelDescriptor(
            net,
            state_dict,
            architecture=self,
            purpose="SR",
            tags=tags,
            # checked on the CPU for every built-in op; the CPU fast paths run for float32 only
            supports_half=True,
            supports_bfloat16=True,
            scale=int(config["scale"]),
            input_channels=3,
            output_channels=3,
            # every built-in op takes any size from 1 x 1 (tests/test_integrations_spandrel.py)
            size_requirements=SizeRequirements(),
            tiling=ModelTiling.SUPPORTED,
        )


#: The architecture object and its registry entry (what ``MAIN_REGISTRY.add`` takes).
HNAS_ARCHITECTURE = HNASArch()
HNAS_SUPPORT = ArchSupport.from_architecture(HNAS_ARCHITECTURE)


def register(registry: ArchRegistry | None = None) -> Any:
    """Add hnas to ``registry`` (spandrel's ``MAIN_REGISTRY`` by default); a second call does nothing."""
    return (registry if registry is not None else MAIN_REGISTRY).add(HNAS_SUPPORT, ignore_duplicates=True)
