"""Embedding hnas costs torch, safetensors and pydantic, nothing more.

An app that builds or loads a network for inference should not pay for the search's plotting,
reports, image I/O or command line. Each check runs in a fresh interpreter and compares the
third-party packages it holds with those that ``import torch, safetensors.torch, pydantic`` alone
loads (torch brings numpy and a few of its own helpers, which vary by torch version).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hnas

ROOT = Path(__file__).resolve().parents[1]
#: Heavy or user-facing packages the issue names, plus the image stack: none may be imported.
FORBIDDEN = {"matplotlib", "jinja2", "skimage", "typer", "rich", "timm", "torchvision", "PIL", "scipy", "click"}

PROBE = """
import sys, json
{code}
names = {{m.split('.')[0] for m in sys.modules}} - set(sys.stdlib_module_names)
print(json.dumps(sorted(names)))
"""


def packages_after(code: str) -> set[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def baseline() -> set[str]:
    code = (
        "import torch, safetensors.torch, pydantic\n"
        "class Model(pydantic.BaseModel):\n"
        "    x: int = pydantic.Field(ge=0)\n"
        "Model(x=1)\n"
    )
    return packages_after(code)  # pydantic imports its parts (annotated_types, ...) on first use


def test_build_model_imports_only_torch_and_pydantic(baseline: set[str]) -> None:
    loaded = packages_after("import hnas\nnet = hnas.build_model('hnas-a', scale=2, channels=4)")
    assert not loaded & FORBIDDEN
    assert loaded - baseline <= {"hnas"}


def test_inference_from_a_model_file_imports_only_torch_safetensors_and_pydantic(
    baseline: set[str], tmp_path: Path
) -> None:
    file = hnas.save_model(hnas.build_model("hnas-b", scale=3, channels=4), tmp_path / "m.safetensors")
    code = (
        "import torch, hnas\n"
        "from hnas.inference import upscale_tensor\n"
        f"net = hnas.load_model({str(file)!r})\n"
        "assert upscale_tensor(net, torch.rand(1, 3, 20, 18) * 255, tile=12).shape == (1, 3, 60, 54)\n"
    )
    loaded = packages_after(code)
    assert not loaded & FORBIDDEN
    assert loaded - baseline <= {"hnas"}
