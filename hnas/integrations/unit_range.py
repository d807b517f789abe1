"""An hnas network on images in 0..1, the convention of BasicSR and spandrel.

Why a subclass and not a retrained network: an hnas network is trained on 0..255 (``rgb_range``,
the EDSR/RCAN/HNAS convention), and it is not scale-invariant (biases, the DIV2K mean shift), so
the 0..1 form scales the image to the network's range and back. Its weights and state-dict keys
are those of :class:`~hnas.models.network.HNASNet`: a model trained in BasicSR is an hnas model
file after a key-for-key copy, and back.

The one addition is the persistent ``uint8`` buffer :data:`~hnas.checkpoint.CONFIG_TENSOR`, the
architecture as JSON (as :func:`hnas.save_model` writes it into every model file): each ``.pth``
BasicSR saves of this network then carries its genotype, so spandrel, or
:func:`hnas.integrations.basicsr.from_basicsr`, rebuilds the network from the file alone.
"""

from __future__ import annotations

from typing import Any

import torch

from hnas.checkpoint import CONFIG_TENSOR, config_tensor, model_metadata
from hnas.models.network import HNASNet

__all__ = ["UnitRangeHNASNet", "core_network"]


class UnitRangeHNASNet(HNASNet):
    """:class:`HNASNet` mapping N x 3 x H x W in 0..1 to N x 3 x sH x sW in 0..1 (not clamped).

    Takes the arguments of :class:`HNASNet`.
    """

    hnas_config: torch.Tensor

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.register_buffer(CONFIG_TENSOR, config_tensor(model_metadata(self)), persistent=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x * self.rgb_range) / self.rgb_range

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The buffer describes the network as built; a stored one may hold the same architecture in
        # another hnas version's words (another length), and is no weight: keep ours. (torch hands
        # this method its own copy of the caller's state dict.)
        if prefix + CONFIG_TENSOR in state_dict:
            state_dict[prefix + CONFIG_TENSOR] = self.hnas_config
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def core_network(net: HNASNet) -> HNASNet:
    """A plain (0..255) :class:`HNASNet` with ``net``'s architecture and weights, on the CPU.

    What :func:`hnas.save_model` and the hnas commands take; a plain network is returned as is.
    """
    if not isinstance(net, UnitRangeHNASNet):
        return net
    config = net.config()
    plain = HNASNet(
        net.genotype,
        scale=config["scale"],
        channels=config["channels"],
        global_skip=config["global_skip"],
        rgb_range=config["rgb_range"],
        op_params=config.get("op_params"),
    )
    state = {name: tensor.detach().cpu() for name, tensor in net.state_dict().items() if name != CONFIG_TENSOR}
    plain.load_state_dict(state, strict=True)
    return plain.train(net.training)
