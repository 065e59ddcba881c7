"""Shared fixtures: tiny models built from a config (nothing is downloaded) and the ../shared folder."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NINES_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (real third-party data lives there on developer machines and CI)")
    return SHARED


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with the embedded MiniLM tokenizer, saved as an HF folder."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from nines.classify.encoder import resolve_backbone

    tok = AutoTokenizer.from_pretrained(resolve_backbone("all-MiniLM-L6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=256, num_labels=1)
    import torch

    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg)
    d = tmp_path_factory.mktemp("tiny_encoder")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Runs an ASGI app with uvicorn in a background thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """Base URL with ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server() -> Iterator[type[LiveServer]]:
    """The ``LiveServer`` class (use it as a context manager)."""
    yield LiveServer


@pytest.fixture
def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    return free_port()


# ---- a tiny causal LM (generator tests, rewrite attacks) ------------------------------------------

TINY_LM_WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "small", "and", "then", "it", "was"]
# No pad/unk tokens: a sampled special token would vanish from the decoded text. The generator
# pads with EOS when the tokenizer has no pad token.
TINY_LM_VOCAB = ["<eos>", *TINY_LM_WORDS, ".", "!", "?", ","]


def build_tiny_model(directory: Path) -> Path:
    """Save a random 2-layer Llama (hidden 32) with a word-level tokenizer to ``directory``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(TINY_LM_VOCAB)}))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(TINY_LM_VOCAB),
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




@pytest.fixture(scope="session")
def cli_loop(tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path) -> Path:
    """generate -> label -> train -> calibrate through the CLI, with a tiny encoder.

    The folder holds ``gen.jsonl``, ``lab.jsonl``, ``nines.db`` and the calibrated classifier ``clf/``
    (which has no training families in its metadata). Tests must not modify these files.
    """
    from click.testing import CliRunner

    from nines.cli.main import cli

    def ok(*args: str) -> None:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    d = tmp_path_factory.mktemp("loop")
    ok("generate", "--num-prompts", "300", "-n", "2", "--seed", "1", "--output", str(d / "gen.jsonl"))
    ok("label", "--input", str(d / "gen.jsonl"), "--output", str(d / "lab.jsonl"), "--labeller", "simulated",
       "--error-rate", "0.0", "--store", str(d / "nines.db"), "--dataset", "demo")
    ok("train", "--data", str(d / "lab.jsonl"), "--val", str(d / "lab.jsonl"), "--output", str(d / "clf"),
       f"backbone={tiny_encoder_dir}", "max_steps=6", "batch_size=16", "eval_every=3")
    ok("calibrate", "--classifier", str(d / "clf"), "--data", str(d / "lab.jsonl"), "--clean-n", "300",
       "rejection_budget=0.1")
    return d
