"""Running the ``nines`` CLI in-process in tests (simonw/llm style): ``run``, ``ok`` and ``rows``.

Importable from any test module, like :mod:`pg` (pytest puts ``tests/`` on ``sys.path`` for the root conftest).
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from nines.cli.main import cli


def run(*args: str) -> Result:
    """``nines ARGS...`` in-process; exceptions propagate, so a crash shows its traceback."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> Result:
    """:func:`run`, asserting exit code 0 (the output is the failure message)."""
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def rows(path: Path) -> list[dict]:
    """The JSON rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
