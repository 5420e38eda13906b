"""Every ```python block of README.md runs as written (a model folder the README names is a tiny stand-in here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
# Model folders a snippet may name, replaced by the tiny test model (the real ones take a training run to exist).
MODEL_FOLDER = re.compile(r"""(["'])runs/[\w.-]+-(sft|rl)\1""")


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_python_blocks_are_found() -> None:
    """The extractor sees the README's Python snippets (a README without any would make the next test vacuous)."""
    assert python_blocks("x\n```python\na = 1\n```\n```bash\nls\n```\n") == ["a = 1\n"]
    assert python_blocks(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(python_blocks(README.read_text(encoding="utf-8")))))
def test_readme_python_snippet_runs(index: int, tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """README snippet number `index` runs without error, in a fresh namespace, from an empty working folder."""
    source = python_blocks(README.read_text(encoding="utf-8"))[index]
    source = MODEL_FOLDER.sub(repr(str(tiny_model_dir)), source)
    monkeypatch.chdir(tmp_path)
    exec(compile(source, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
