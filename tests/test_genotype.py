"""Genotypes: canonical form, stable hash, files, and errors that name the node and the reason."""

import json

import pytest

from hnas import Genotype
from hnas.errors import GenotypeError
from hnas.spaces import resolve_genotype

HNAS_A_NORMAL = [
    ["skip_connect", 1, 2], ["sep_conv_5x5", 1, 2], ["dil_conv_3x3", 0, 3], ["dil_conv_5x5", 1, 3],
    ["skip_connect", 1, 4], ["dil_conv_3x3", 1, 4], ["dil_conv_5x5", 1, 5], ["sep_conv_3x3", 4, 5],
]
HNAS_A_UP = [
    ["deconvolution", 0, 2], ["bilinear", 0, 2], ["area", 1, 3], ["deconvolution", 0, 3],
    ["area", 3, 4], ["bilinear", 0, 4], ["bilinear", 1, 5], ["deconvolution", 3, 5],
]


def genotype_dict(**changes):
    data = {"normal": HNAS_A_NORMAL, "upsampling": HNAS_A_UP, "position": 10, "layers": 12}
    data.update(changes)
    return data


def test_preset_is_the_published_hnas_a():
    a = resolve_genotype("hnas-a")
    assert a == Genotype.model_validate(genotype_dict())
    assert a.position == 10 and a.layers == 12 and a.normal.nodes == 4
    assert resolve_genotype("hnas-b").position == 12 and resolve_genotype("hnas-c").position == 12


def test_canonical_json_round_trip_and_hash_stability():
    a = resolve_genotype("hnas-a")
    again = Genotype.model_validate_json(a.canonical_json())
    assert again == a and again.hash() == a.hash()
    shuffled = genotype_dict(normal=list(reversed(HNAS_A_NORMAL)))
    assert Genotype.model_validate(shuffled).hash() == a.hash()
    aliased = genotype_dict(normal=[["identity", 1, 2]] + HNAS_A_NORMAL[1:])
    assert "identity" not in Genotype.model_validate(aliased).normal.ops()
    assert Genotype.model_validate(aliased).hash() == a.hash()
    assert a.hash() != resolve_genotype("hnas-b").hash()
    assert len({resolve_genotype(p).hash() for p in ("hnas-a", "hnas-b", "hnas-c")}) == 3


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_save_and_load(tmp_path, suffix):
    a = resolve_genotype("hnas-c")
    path = a.save(tmp_path / f"c{suffix}")
    assert Genotype.load(path) == a
    assert resolve_genotype(str(path)) == a


def test_example_files_match_presets():
    from pathlib import Path

    folder = Path(__file__).parents[1] / "examples" / "genotypes"
    for name in ("hnas-a", "hnas-b", "hnas-c"):
        assert Genotype.load(folder / f"{name}.json") == resolve_genotype(name)
        assert Genotype.load(folder / f"{name}.toml") == resolve_genotype(name)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"position": 13}, "position 13 is outside 1..12"),
        ({"position": 0}, "position 0 is outside 1..12"),
        ({"normal": [["skip_connect", 2, 2]] + HNAS_A_NORMAL[1:]}, "node 2 takes input from node 2"),
        ({"normal": [["skip_connect", 3, 2]] + HNAS_A_NORMAL[1:]}, "not an earlier node"),
        ({"normal": HNAS_A_NORMAL[1:]}, "node 2 has 1 incoming edges"),
        ({"normal": HNAS_A_NORMAL + [["skip_connect", 0, 3]]}, "node 3 has 3 incoming edges"),
        ({"normal": HNAS_A_NORMAL[:4] + HNAS_A_NORMAL[6:]}, "node 4 has 0 incoming edges"),
        ({"normal": [["sep_conv3x3", 1, 2]] + HNAS_A_NORMAL[1:]},
         "normal cell, node 2, edge 0 ['sep_conv3x3', 1, 2]: unknown normal op 'sep_conv3x3' (did you mean 'sep_conv_3x3'"),
        ({"upsampling": [["sep_conv_3x3", 0, 2]] + HNAS_A_UP[1:]}, "upsampling cell, node 2"),
        ({"normal": [["skip_connect", 1, 1]] + HNAS_A_NORMAL[1:]}, "input node"),
        ({"normal": []}, "at least one intermediate node"),
        ({"extra": 1}, "extra"),
    ],
)
def test_validation_errors_name_the_place(changes, expected):
    with pytest.raises(GenotypeError) as info:
        Genotype.from_data(genotype_dict(**changes))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_files_are_one_line_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GenotypeError, match="bad.json is not valid JSON"):
        Genotype.load(tmp_path / "bad.json")
    with pytest.raises(GenotypeError, match="not found"):
        Genotype.load(tmp_path / "missing.json")
    (tmp_path / "g.json").write_text(json.dumps(genotype_dict(position=99)))
    with pytest.raises(GenotypeError, match=r"g.json: upsampling position 99 is outside 1..12"):
        Genotype.load(tmp_path / "g.json")
    with pytest.raises(GenotypeError, match="neither a preset, a genotype file nor a run folder"):
        resolve_genotype("hnas-z")


def test_smaller_cells_and_networks_are_allowed():
    g = Genotype.model_validate(
        {"normal": [["rcab", 0, 2], ["rcab", 1, 2]], "upsampling": [["nearest", 0, 2], ["sub_pixel", 1, 2]],
         "position": 1, "layers": 2}
    )
    assert g.normal.nodes == 1 and g.layers == 2


def _with_rcab(op_params=None):
    data = genotype_dict(normal=[["rcab", 1, 2]] + HNAS_A_NORMAL[1:])
    if op_params is not None:
        data["op_params"] = op_params
    return Genotype.from_data(data)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_op_params_travel_in_the_genotype_file(tmp_path, suffix):
    import hnas

    plain = _with_rcab()
    tuned = _with_rcab({"normal": {"rcab": {"reduction": 1}, "conv_3x3": {"unused": 1}}})
    assert tuned.op_params == {"normal": {"rcab": {"reduction": 1}}}  # only what the cells use
    assert tuned.hash() != plain.hash()
    assert _with_rcab({"normal": {"rcab": {}}}).hash() == plain.hash()  # no settings: the old hash
    loaded = Genotype.load(tuned.save(tmp_path / f"g{suffix}"))
    assert loaded == tuned and loaded.hash() == tuned.hash()

    def count(net):
        return sum(p.numel() for p in net.parameters())

    from_file = hnas.build_model(str(tmp_path / f"g{suffix}"), channels=6)
    assert count(from_file) == count(hnas.build_model(plain, channels=6, op_params=tuned.op_params))
    assert count(from_file) > count(hnas.build_model(plain, channels=6))  # reduction 1: a wider attention


def test_a_checkpoint_keeps_op_params_and_old_files_still_load(tmp_path):
    import json

    import hnas
    from hnas.checkpoint import read_metadata

    tuned = _with_rcab({"normal": {"rcab": {"reduction": 1}}})
    net = hnas.build_model(tuned, channels=6)
    path = hnas.save_model(net, tmp_path / "m.safetensors")
    meta = read_metadata(path)
    # the hnas-model/1 layout: the bare genotype and the settings beside it (older readers read it)
    assert "op_params" not in json.loads(meta["genotype"]) and json.loads(meta["op_params"])
    loaded = hnas.load_model(path)
    assert loaded.genotype == tuned and loaded.genotype.hash() == tuned.hash()


def test_op_params_errors_name_the_key():
    with pytest.raises(GenotypeError, match="op_params keys are 'normal' and 'upsampling'"):
        _with_rcab({"nromal": {"rcab": {"reduction": 1}}})
    with pytest.raises(GenotypeError, match="did you mean 'rcab'"):
        _with_rcab({"normal": {"rcabb": {"reduction": 1}}})
