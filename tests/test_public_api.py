"""The top-level API: ``import nines`` is cheap, its names resolve, and the README's whole loop runs.

The loop is the README's Python block marked ``<!-- loop -->`` (the line just before the opening
fence). The test runs it as written except for one setting: the classifier's backbone becomes the suite's 2-layer, 32-wide
BERT (``tiny_encoder_dir``), so that the loop takes seconds instead of minutes.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import nines

REPO = Path(__file__).resolve().parents[1]

def loop_source() -> str:
    """The README's ``<!-- loop -->`` Python block (the test fails if the README loses it)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- loop -->\s*\n```python\n(.*?)\n```", readme, re.S)
    if m is None:
        pytest.fail("README.md has no Python block marked <!-- loop --> (the whole loop in Python)")
    return m.group(1) + "\n"


def test_import_is_lazy_and_does_not_import_torch() -> None:
    code = ("import sys, nines; heavy = [m for m in ('torch', 'transformers', 'sqlalchemy', 'nines.classify') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_export_resolves_to_its_module_object() -> None:
    assert nines.__all__[0] == "__version__" and len(nines.__all__) == len(set(nines.__all__))
    for name, module in nines._EXPORTS.items():
        assert getattr(nines, name) is getattr(importlib.import_module(module), name), name
    assert set(nines.__all__) <= set(dir(nines))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'StoryWrold'"):
        nines.StoryWrold  # noqa: B018
    assert not hasattr(nines, "_not_exported")


def test_type_checking_imports_match_the_exports() -> None:
    """The eager imports for type checkers name exactly the lazy exports, from the same modules."""
    tree = ast.parse((REPO / "src" / "nines" / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    eager = {a.name: imp.module for imp in block.body if isinstance(imp, ast.ImportFrom) for a in imp.names}
    assert eager == nines._EXPORTS


def test_loop_uses_only_top_level_imports() -> None:
    tree = ast.parse(loop_source())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports and all(isinstance(n, ast.Import) and [a.name for a in n.names] == ["nines"] for n in imports)
    assert 12 <= len(loop_source().strip().splitlines()) <= 25  # "about 20 lines"


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """A 32-wide model gains nothing from threads, and on shared cores they make it ~6x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_readme_loop_runs(tiny_encoder_dir: Path, one_torch_thread: None, capsys: pytest.CaptureFixture[str]) -> None:
    source = loop_source()
    assert source.count("nines.TrainConfig(") == 1, "the loop should build one TrainConfig (the test sets its backbone)"
    source = source.replace("nines.TrainConfig(", "nines.TrainConfig(backbone=TINY_BACKBONE, ")
    namespace: dict[str, object] = {"__name__": "__readme__", "TINY_BACKBONE": str(tiny_encoder_dir)}
    exec(compile(source, "README.md <!-- loop -->", "exec"), namespace)  # noqa: S102
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(r"at 95% confidence the failure rate is below \S+ \([\d.]+ nines\), from \d+ failures? "
                    r"in \d+ filtered completions", line), line
    bound, labels, clf = namespace["bound"], namespace["labels"], namespace["clf"]
    assert bound.n == len(labels) >= 250 and None not in labels  # the exact oracle labels every completion
    assert 0.0 < clf.threshold < 1.0  # calibration set a threshold
