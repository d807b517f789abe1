"""The weight-sharing supernet runs exactly the sampled architecture, with shared weights."""

import random

import pytest
import torch

from hnas import Genotype, build_model
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS
from hnas.spaces.random import random_genotype
from hnas.search.supernet import SuperNet


def small_supernet(**kw):
    args = dict(layers=3, nodes=2, channels=4, scale=2)
    args.update(kw)
    return SuperNet(NORMAL_OPS.names(), UPSAMPLING_OPS.names(), **args)


def test_every_candidate_edge_holds_every_op():
    net = small_supernet()
    cell = net.normal_cells[0]
    # node 2 has sources 0, 1; node 3 has sources 0, 1, 2: 5 edges x 7 ops
    assert len(cell.edges) == 5 * len(NORMAL_OPS)
    assert len(net.upsampling_cells[0].edges) == 5 * len(UPSAMPLING_OPS)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_any_sampled_architecture_upscales_exactly(scale):
    net = small_supernet(scale=scale)
    rng = random.Random(scale)
    for _ in range(3):
        genotype = random_genotype(rng, nodes=2, layers=3)
        y = net(torch.rand(2, 3, 7, 9) * 255, genotype)
        assert y.shape == (2, 3, 7 * scale, 9 * scale)


def test_only_the_chosen_ops_get_gradients():
    net = small_supernet()
    genotype = Genotype.model_validate({
        "normal": [["sep_conv_3x3", 0, 2], ["rcab", 1, 2], ["skip_connect", 2, 3], ["dil_conv_3x3", 0, 3]],
        "upsampling": [["sub_pixel", 0, 2], ["nearest", 1, 2], ["deconvolution", 2, 3], ["area", 0, 3]],
        "position": 2, "layers": 3,
    })
    net(torch.rand(1, 3, 8, 8) * 255, genotype).mean().backward()
    with_grad = {name for name, p in net.named_parameters() if p.grad is not None}
    assert "normal_cells.0.edges.2_0_sep_conv_3x3.1.weight" in with_grad
    assert "upsampling_cells.1.edges.2_0_sub_pixel.0.weight" in with_grad
    assert "upsampling_cells.1.edges.3_2_deconvolution.weight" in with_grad
    assert not any(name.startswith("upsampling_cells.0.") for name in with_grad)
    assert not any("sep_conv_5x5" in name for name in with_grad)
    assert with_grad == {name for name, p in net.named_parameters()
                         if any(p is q for q in net.used_parameters(genotype))}


def test_identical_edges_are_computed_once():
    net = small_supernet(layers=1)
    calls = []
    net.normal_cells  # layer 1 is the upsampling one when position is 1
    edge = net.upsampling_cells[0].edges["2_0_deconvolution"]
    edge.register_forward_hook(lambda *a: calls.append(1))
    genotype = Genotype.model_validate({
        "normal": [["rcab", 0, 2], ["rcab", 0, 2], ["rcab", 0, 3], ["rcab", 0, 3]],
        "upsampling": [["deconvolution", 0, 2], ["deconvolution", 0, 2], ["nearest", 0, 3], ["area", 1, 3]],
        "position": 1, "layers": 1,
    })
    net(torch.rand(1, 3, 4, 4), genotype)
    assert calls == [1]


def test_supernet_matches_derived_structure_in_cost():
    """The same genotype costs the same MACs in the supernet path and in the derived network."""
    from hnas.costs import count_macs

    rng = random.Random(0)
    while True:  # identical edges share one computation in the supernet; pick a genotype without
        genotype = random_genotype(rng, nodes=2, layers=3)
        cells = (genotype.normal, genotype.upsampling)
        if all(len({(e.source, e.op) for e in c.node_edges(n)}) == 2 for c in cells for n in (2, 3)):
            break
    net = small_supernet().eval()
    derived = build_model(genotype, scale=2, channels=4).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        supernet_macs = count_macs(lambda t: net(t, genotype), x).total
        derived_macs = count_macs(derived, x).total
    assert supernet_macs == derived_macs


def test_user_op_is_searchable():
    @NORMAL_OPS.register("test_search_op")
    def my_op(channels, **kw):
        """A user op taking (channels, **kw)."""
        return torch.nn.Conv2d(channels, channels, 1)

    try:
        net = SuperNet(["test_search_op", "skip_connect"], ["nearest"], layers=2, nodes=1, channels=4)
        genotype = Genotype.model_validate({
            "normal": [["test_search_op", 0, 2], ["skip_connect", 1, 2]],
            "upsampling": [["nearest", 0, 2], ["nearest", 1, 2]], "position": 2, "layers": 2})
        assert net(torch.rand(1, 3, 5, 5), genotype).shape == (1, 3, 10, 10)
    finally:
        NORMAL_OPS.unregister("test_search_op")


def test_large_cells_recompute_in_backward_with_identical_gradients(monkeypatch):
    """Cells over CELL_RECOMPUTE_NUMEL keep only their inputs for backward (the LR-48 memory
    target); the gradients must be exactly those of the plain forward."""
    import hnas.search.supernet as supernet_module
    import hnas.utils.recompute as recompute_module

    net = small_supernet()
    genotype = random_genotype(random.Random(5), nodes=2, layers=3)
    x = torch.rand(2, 3, 12, 10) * 255

    def gradients():
        net.zero_grad(set_to_none=True)
        net(x, genotype).square().mean().backward()
        return {name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None}

    plain = gradients()
    calls = []
    real = recompute_module.checkpoint
    monkeypatch.setattr(recompute_module, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(supernet_module, "CELL_RECOMPUTE_NUMEL", 1)
    recomputed = gradients()
    assert len(calls) == 3  # every cell went through the recomputation
    assert plain.keys() == recomputed.keys()
    for name in plain:
        torch.testing.assert_close(recomputed[name], plain[name], rtol=0, atol=0, msg=name)


def test_an_op_that_recomputes_runs_twice_inside_a_recomputed_cell_not_three_times(monkeypatch):
    """up_and_down recomputes itself on large inputs; inside a cell that recomputes, its own
    checkpoint would add a third forward per step (forward, the cell's recomputation, its own)."""
    import hnas.ops.normal as normal_module
    import hnas.search.supernet as supernet_module

    net = SuperNet(["up_and_down", "skip_connect"], ["nearest"], layers=2, nodes=1, channels=4)
    genotype = Genotype.model_validate({
        "normal": [["up_and_down", 0, 2], ["skip_connect", 1, 2]],
        "upsampling": [["nearest", 0, 2], ["nearest", 1, 2]], "position": 2, "layers": 2})
    x = torch.rand(2, 3, 8, 8) * 255

    def forwards_per_step() -> int:
        calls = []
        real = normal_module.UpAndDownProjection.subpixel_forward
        monkeypatch.setattr(normal_module.UpAndDownProjection, "subpixel_forward",
                            lambda self, h: calls.append(1) or real(self, h))
        net.zero_grad(set_to_none=True)
        net(x, genotype).mean().backward()
        return len(calls)

    monkeypatch.setattr(normal_module, "RECOMPUTE_NUMEL", 1)
    assert forwards_per_step() == 2  # the op alone: forward and its recomputation
    monkeypatch.setattr(supernet_module, "CELL_RECOMPUTE_NUMEL", 1)
    assert forwards_per_step() == 2  # in a recomputed cell: still two, not three


@pytest.mark.parametrize(("lr_size", "recomputes"), [(32, False), (48, True)])
def test_only_the_lr48_step_recomputes_its_high_resolution_cells(monkeypatch, lr_size, recomputes):
    """At the paper's search settings (C = 8, 4 nodes, batch 16) a cell after the upsampling reads
    16 x 32 x 2h x 2w: recomputed at LR 48 (the memory target), not at LR 32 (the speed target),
    which once sat exactly on the threshold and ran its high-resolution cells twice."""
    import hnas.search.supernet as supernet_module

    calls = []
    real = supernet_module.recomputed
    monkeypatch.setattr(supernet_module, "recomputed", lambda *a: calls.append(1) or real(*a))
    net = SuperNet(["skip_connect"], ["nearest"], layers=2, nodes=4, channels=8)
    genotype = Genotype.model_validate({
        "normal": [["skip_connect", 0, n] for n in range(2, 6) for _ in range(2)],
        "upsampling": [["nearest", 1, n] for n in range(2, 6) for _ in range(2)], "position": 1, "layers": 2})
    net(torch.rand(16, 3, lr_size, lr_size), genotype).mean().backward()
    assert bool(calls) is recomputes


def test_a_weight_step_trains_only_the_path_drawn_for_its_index():
    """``SupernetStep``: step k draws its architecture from k alone (a resumed search trains what it
    did), and only that path's weights move; the others are left exactly as they were."""
    from hnas.engine.loop import Loop
    from hnas.search.supernet import SupernetStep

    torch.manual_seed(0)
    net = small_supernet()
    drawn = {k: random_genotype(random.Random(k), nodes=2, layers=3) for k in (0, 1)}
    batches = {k: (torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)) for k in (0, 1)}
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    step = SupernetStep(optimizer, net, net, drawn.__getitem__, batches.__getitem__, torch.device("cpu"), grad_clip=0.5)
    before = [p.detach().clone() for p in net.parameters()]
    Loop(step, lambda k: 0.1, start=1, end=2).run()
    assert step.genotype == drawn[1]
    used = {id(p) for p in net.used_parameters(drawn[1])}
    moved = {id(p) for p, old in zip(net.parameters(), before, strict=True) if not torch.equal(p, old)}
    assert moved and moved <= used
