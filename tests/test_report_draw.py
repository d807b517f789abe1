"""`hnas show GENOTYPE --draw FILE`: the published cells drawn as in the paper's Fig. 4."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from PIL import Image
from typer.testing import CliRunner

from hnas import resolve_genotype
from hnas.cli import app
from hnas.report.draw import cell_layout, save_drawing

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


def _groups(path):
    """SVG group id -> element."""
    root = ET.parse(path).getroot()
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def _text(element) -> str:
    return "".join("".join(t.itertext()) for t in element.iter(f"{SVG}text")).strip()


@pytest.fixture(scope="module")
def drawings(tmp_path_factory):
    """HNAS-A/B/C drawn once as SVG: preset name -> file."""
    folder = tmp_path_factory.mktemp("drawings")
    return {
        name: save_drawing(resolve_genotype(name), folder / f"{name}.svg", title=name)
        for name in ("hnas-a", "hnas-b", "hnas-c")
    }


@pytest.mark.parametrize("preset", ["hnas-a", "hnas-b", "hnas-c"])
def test_every_op_is_a_label_and_every_edge_a_path(preset, drawings):
    genotype = resolve_genotype(preset)
    groups = _groups(drawings[preset])
    for kind in ("normal", "upsampling"):
        cell = getattr(genotype, kind)
        labels = []
        for i, edge in enumerate(cell.edges):
            assert groups[f"{kind}-edge-{i}"].find(f".//{SVG}path") is not None, (kind, i)
            labels.append(_text(groups[f"{kind}-label-{i}"]))
            assert labels[-1] == edge.op
        assert Counter(labels) == Counter(cell.ops())
        for node in range(2, cell.nodes + 2):  # the output concatenates every intermediate node
            assert groups[f"{kind}-concat-{node}"].find(f".//{SVG}path") is not None
    assert f"network-layer-{genotype.position}" in groups
    assert "network-layer-stem" in groups and "network-layer-tail" in groups
    assert sum(1 for g in groups if g.startswith("network-layer-")) == genotype.layers + 2


def test_layout_flows_left_to_right():
    """Inputs left, every edge points right (to a later column), the output right of everything."""
    for preset in ("hnas-a", "hnas-b", "hnas-c"):
        for cell in (resolve_genotype(preset).normal, resolve_genotype(preset).upsampling):
            pos = cell_layout(cell)
            assert pos[0][0] == pos[1][0] == 0 and pos[0][1] > pos[1][1]  # c_{k-2} above c_{k-1}
            assert all(pos[e.source][0] < pos[e.target][0] for e in cell.edges)
            out = cell.nodes + 2
            assert all(pos[out][0] > pos[n][0] for n in range(out))
            assert len(set(pos.values())) == len(pos)  # no two nodes on the same spot


def test_show_draw_png_and_one_line_mistakes(tmp_path):
    out = tmp_path / "drawings" / "a.png"
    result = runner.invoke(app, ["show", "hnas-a", "--draw", str(out), "--json"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 800 and image.height > 600
    result = runner.invoke(app, ["show", "hnas-a", "--draw", str(tmp_path / "a.jpg")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and ".svg or .png" in result.stderr
    result = runner.invoke(app, ["show", str(tmp_path), "--draw", str(tmp_path / "x.svg")])
    assert result.exit_code == 2 and "not an hnas run folder" in result.stderr


def test_twin_edges_are_drawn_apart(drawings):
    """HNAS-B's upsampling node 4 takes sub_pixel from node 3 twice: two distinct curves."""
    genotype = resolve_genotype("hnas-b")
    twins = [i for i, e in enumerate(genotype.upsampling.edges) if (e.source, e.target) == (3, 4)]
    assert len(twins) == 2
    groups = _groups(drawings["hnas-b"])
    paths = [groups[f"upsampling-edge-{i}"].find(f".//{SVG}path").get("d") for i in twins]
    assert paths[0] != paths[1]
