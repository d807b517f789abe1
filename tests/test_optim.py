"""The Adam the training loops build: fused where torch has it, the same update as the for-loop form."""

from __future__ import annotations

import torch

import hnas
from hnas.utils.optim import adam


def test_adam_is_fused_on_cpu_and_updates_like_the_for_loop_form() -> None:
    torch.manual_seed(0)
    model = hnas.build_model("hnas-a", scale=2, channels=4)
    twin = hnas.build_model("hnas-a", scale=2, channels=4)
    twin.load_state_dict(model.state_dict())
    fused, plain = adam(model.parameters(), lr=1e-2), torch.optim.Adam(twin.parameters(), lr=1e-2)
    assert fused.defaults["fused"] is True  # torch >= 2.4 fuses Adam on CPU (this project's stack)
    x = torch.rand(2, 3, 8, 8) * 255
    for _ in range(3):
        for net, opt in ((model, fused), (twin, plain)):
            opt.zero_grad(set_to_none=True)
            net(x).abs().mean().backward()
            opt.step()
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_adam_keeps_a_caller_s_explicit_form() -> None:
    params = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    assert adam(params, lr=1e-3).defaults["fused"] is True  # float32 and float64 on one device: fused
    assert not adam(params, lr=1e-3, foreach=False).defaults["fused"]
    assert not adam(params, lr=1e-3, fused=False).defaults["fused"]
