"""docs/embedding.md: every Python block runs as written (in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

DOC = Path(__file__).resolve().parent.parent / "docs" / "embedding.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_doc_has_the_promised_examples() -> None:
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 6
    assert any("NormalCell" in b for b in blocks) and any("timm.create_model" in b for b in blocks)
    assert any("to_basicsr" in b for b in blocks) and any("spandrel.ModelLoader" in b for b in blocks)


def test_every_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write my_hnas_a_x2.safetensors into the cwd
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        namespace: dict[str, object] = {"__name__": "embedding_doc"}
        for index, block in enumerate(python_blocks(DOC.read_text(encoding="utf-8"))):
            exec(compile(block, f"{DOC.name}[block {index}]", "exec"), namespace)  # noqa: S102
    finally:
        torch.set_num_threads(before)
    assert (tmp_path / "my_hnas_a_x2.safetensors").is_file()
