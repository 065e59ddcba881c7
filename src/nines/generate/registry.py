"""``load_generator(spec)``: build a generator from a one-line spec.

Forms:

* ``hf:<local-path-or-hub-id>``, e.g. ``hf:gpt2`` or ``hf:/models/my-llama``
* ``openai:<base_url>#<model>``, e.g. ``openai:http://localhost:8000/v1#meta-llama/Llama-3.1-8B``
* ``llama2c:<dir>``: a folder with a llama2.c checkpoint and its ``tok*.bin`` tokenizer, e.g.
  ``llama2c:../shared/models/stories260K``; converted once into a cache folder
  (``$NINES_CACHE`` or ``~/.cache/nines``, a temporary folder when that is not writable).
* ``safetext`` or ``safetext:<key>=<value>,...``: SafeText's own continuations with an exact oracle,
  e.g. ``safetext:p_unsafe=0.2,split=test`` (:class:`nines.generate.safetext.SafeTextConfig`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from nines.generate.base import Generator

FORMS = (
    "hf:<path-or-hub-id> (e.g. 'hf:gpt2'), "
    "openai:<base_url>#<model> (e.g. 'openai:http://localhost:8000/v1#my-model'), "
    "llama2c:<dir with model .bin and tok*.bin> (e.g. 'llama2c:../shared/models/stories260K'), "
    "safetext[:key=value,...] (e.g. 'safetext:p_unsafe=0.2,split=test')"
)


def load_generator(spec: str, **kwargs: Any) -> Generator:
    """Build a generator from ``spec``.

    Args:
        spec: see the module docstring for the forms.
        **kwargs: extra config fields (``HFGeneratorConfig`` for ``hf``/``llama2c``,
            ``OpenAIGeneratorConfig`` for ``openai``).

    Returns:
        The generator.

    Raises:
        ValueError: on an unknown or malformed spec.
    """
    scheme, sep, rest = spec.partition(":")
    if scheme == "safetext":
        from nines.config import load_config
        from nines.generate.safetext import SafeTextConfig, SafeTextGenerator

        fields = [kv.strip() for kv in rest.split(",") if kv.strip()]
        return SafeTextGenerator(load_config(SafeTextConfig, None, fields))
    if not sep or not rest:
        raise ValueError(f"generator spec {spec!r} is not valid; use one of: {FORMS}")
    if scheme == "hf":
        from nines.generate.hf import HFGenerator, HFGeneratorConfig

        return HFGenerator(HFGeneratorConfig(model=rest, **kwargs))
    if scheme == "openai":
        from nines.generate.openai_compat import OpenAICompletionsGenerator, OpenAIGeneratorConfig

        base_url, hash_, model = rest.rpartition("#")
        if not hash_ or not base_url or not model:
            raise ValueError(
                f"openai spec {spec!r} needs '#<model>', e.g. 'openai:http://localhost:8000/v1#my-model'"
            )
        return OpenAICompletionsGenerator(OpenAIGeneratorConfig(base_url=base_url, model=model, **kwargs))
    if scheme == "llama2c":
        from nines.generate.hf import HFGenerator, HFGeneratorConfig

        folder = convert_llama2c_cached(Path(rest).expanduser())
        return HFGenerator(HFGeneratorConfig(model=str(folder), **kwargs), name=f"llama2c:{Path(rest).name}")
    raise ValueError(f"unknown generator scheme {scheme!r} in {spec!r}; use one of: {FORMS}")


def _llama2c_files(directory: Path) -> tuple[Path, Path]:
    if not directory.is_dir():
        raise ValueError(
            f"llama2c folder {directory} does not exist; point to the folder holding e.g. stories260K.bin"
        )
    toks = sorted(directory.glob("tok*.bin"))
    models = sorted(p for p in directory.glob("*.bin") if p not in toks)
    if len(toks) != 1 or len(models) != 1:
        raise ValueError(
            f"{directory} must hold exactly one llama2.c model .bin and one tok*.bin tokenizer; "
            f"found models {[p.name for p in models]} and tokenizers {[p.name for p in toks]}"
        )
    return models[0], toks[0]


def _cache_root() -> Path:
    root = Path(os.environ.get("NINES_CACHE", Path.home() / ".cache" / "nines")) / "llama2c"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.touch()
        probe.unlink()
        return root
    except OSError:
        return Path(tempfile.mkdtemp(prefix="nines-llama2c-"))


def convert_llama2c_cached(directory: Path) -> Path:
    """Convert a llama2.c folder once and reuse the result (keyed by the files' contents).

    Args:
        directory: folder with the model ``.bin`` and its ``tok*.bin``.

    Returns:
        The converted Hugging Face folder.
    """
    from nines.generate.llama2c import convert_llama2c

    checkpoint, tokenizer = _llama2c_files(directory)
    digest = hashlib.sha256()
    for path in (checkpoint, tokenizer):
        digest.update(path.read_bytes())
    out = _cache_root() / f"{checkpoint.stem}-{digest.hexdigest()[:16]}"
    if (out / "config.json").is_file() and (out / "tokenizer.json").is_file():
        return out
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out.parent))
    convert_llama2c(checkpoint, tokenizer, tmp)
    with contextlib.suppress(OSError):  # another process may have won the race
        tmp.rename(out)
    return out if (out / "config.json").is_file() else tmp
