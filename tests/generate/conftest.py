"""Fixtures for generator tests: a tiny word-level Llama saved to disk, and a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "small", "and", "then", "it", "was"]
# No pad/unk tokens: a sampled special token would vanish from the decoded text. The generator
# pads with EOS when the tokenizer has no pad token.
VOCAB = ["<eos>", *WORDS, ".", "!", "?", ","]


def build_tiny_model(directory: Path) -> Path:
    """Save a random 2-layer Llama (hidden 32) with a word-level tokenizer to ``directory``."""
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=None,
        eos_token_id=0,
        bos_token_id=None,
        initializer_range=0.2,  # peakier than uniform, still random
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = 0
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with the tiny model and tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_dir: Path):
    """An ``HFGenerator`` loaded by path from ``tiny_model_dir``."""
    from nines.generate.hf import HFGenerator, HFGeneratorConfig

    return HFGenerator(HFGeneratorConfig(model=str(tiny_model_dir), max_new_tokens=20, device="cpu"))


