"""load_generator specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nines.generate.hf import HFGenerator
from nines.generate.llama2c import stories260k_dir
from nines.generate.openai_compat import OpenAICompletionsGenerator
from nines.generate.registry import load_generator


def test_hf_spec(tiny_model_dir: Path) -> None:
    gen = load_generator(f"hf:{tiny_model_dir}", max_new_tokens=5)
    assert isinstance(gen, HFGenerator) and gen.config.max_new_tokens == 5
    assert len(gen.generate(["the cat"], n=2, seed=0)[0]) == 2


def test_openai_spec() -> None:
    gen = load_generator("openai:http://localhost:8000/v1#org/model-7b", max_tokens=7)
    assert isinstance(gen, OpenAICompletionsGenerator)
    assert gen.config.base_url == "http://localhost:8000/v1" and gen.config.model == "org/model-7b"
    assert gen.name == "openai:org/model-7b" and gen.config.max_tokens == 7
    with pytest.raises(ValueError, match="#<model>"):
        load_generator("openai:http://localhost:8000/v1")


@pytest.mark.parametrize("spec", ["storyworld2:x", "gpt2", "hf:", "vllm:http://x#m"])
def test_unknown_spec_lists_valid_forms(spec: str) -> None:
    with pytest.raises(ValueError, match="openai:<base_url>#<model>") as e:
        load_generator(spec)
    assert "hf:gpt2" in str(e.value) or "'hf:gpt2'" in str(e.value)


def test_llama2c_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_generator(f"llama2c:{tmp_path / 'nope'}")
    with pytest.raises(ValueError, match="exactly one"):
        load_generator(f"llama2c:{tmp_path}")


@pytest.mark.shared
def test_llama2c_spec_converts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = stories260k_dir()
    if src is None:
        pytest.skip("../shared/models/stories260K is absent")
    monkeypatch.setenv("NINES_CACHE", str(tmp_path))
    gen = load_generator(f"llama2c:{src}", max_new_tokens=8)
    assert isinstance(gen, HFGenerator) and gen.name == "llama2c:stories260K"
    cached = sorted((tmp_path / "llama2c").glob("stories260K-*"))
    assert len(cached) == 1
    again = load_generator(f"llama2c:{src}")
    assert Path(again.config.model) == cached[0]
    assert len(gen.generate(["Once upon a time"], n=2, seed=0)[0]) == 2
