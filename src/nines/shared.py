"""Where the shared third-party data and models are: ``$NINES_SHARED``, else ``../shared``.

The folder is never shipped (a fresh user machine lacks it); code that needs it asks
:func:`shared_dir` and, on ``None``, skips or says how to get it. No nines imports, so every
layer can call it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that names the shared folder.
ENV = "NINES_SHARED"


def shared_dir(holding: str = "data") -> Path | None:
    """The shared folder, or ``None`` when it is absent.

    ``$NINES_SHARED`` wins when set (``None`` if it is not a folder). Otherwise ``../shared`` beside
    the checkout (found from this file, ``<repo>/src/nines/shared.py``) and beside the current
    directory are tried, and the first that holds ``holding`` is returned; an installed package has
    no checkout above it, hence the current directory.

    Args:
        holding: a path inside the folder that must exist there (``data``, ``models/stories260K``,
            ``data/safetext.json``).
    """
    env = os.environ.get(ENV)
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    repo = Path(__file__).resolve().parents[2]
    for cand in (repo.parent / "shared", Path.cwd().parent / "shared"):
        if (cand / holding).exists():
            return cand
    return None
