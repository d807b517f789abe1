"""What starting hnas imports: ``hnas --help`` needs no torch, ``import hnas`` no timm or torchvision.

Each check runs in a fresh interpreter and reads ``sys.modules`` there: a test of what is
imported, not of how long it takes (benchmarks/test_startup_bench.py times it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "timm", "torchvision", "numpy", "PIL", "pydantic")


def imported_after(code: str, watched: tuple[str, ...] = HEAVY) -> set[str]:
    """Top-level packages among ``watched`` that a fresh interpreter holds after running ``code``."""
    probe = (
        "import sys\n"
        f"{code}\n"
        "import json\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({watched!r}))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_help_imports_neither_torch_nor_numpy() -> None:
    code = (
        "from hnas.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    assert imported_after(code) == set()
    # nor rich: the help is click's plain text, since typer's rich help imports rich.markdown and
    # pygments (about 0.15 s); progress bars and tables import rich when a command draws them
    assert imported_after(code, ("rich",)) == set()


def test_import_hnas_leaves_timm_torchvision_and_torch_alone() -> None:
    assert imported_after("import hnas") == set()


def test_listing_ops_needs_torch_but_not_timm() -> None:
    code = "import hnas\nassert 'sep_conv_3x3' in hnas.NORMAL_OPS.names()"
    imported = imported_after(code)
    assert "torch" in imported and not imported & {"timm", "torchvision"}


def test_public_names_load_on_first_use() -> None:
    code = (
        "import hnas\n"
        "net = hnas.build_model('hnas-b', channels=4)\n"
        "assert isinstance(net, hnas.HNASNet) and hnas.Genotype is type(net.genotype)\n"
        "assert 'rcab' in hnas.NORMAL_OPS and hnas.models.cells.NormalCell\n"
    )
    assert "timm" not in imported_after(code)  # RCAB's channel attention is hnas's own


def test_zoo_registers_with_timm_when_asked_for() -> None:
    code = "import hnas.zoo, timm\nassert timm.list_models('hnas_*') == hnas.zoo.list_models()"
    assert "timm" in imported_after(code)
