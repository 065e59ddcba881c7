"""Policies: a tiny causal LM built from scratch, or any ``transformers`` causal LM (optionally LoRA).

A policy is a folder written by ``save_pretrained`` (model and tokenizer), so every stage of
distillation hands the next one a path, and :func:`policy_generator` turns any of them into a
:class:`~nines.generate.base.Generator` for the filter, the estimators and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # transformers is imported only when a policy is built or loaded (keeps configs light)
    from nines.generate.hf import HFGenerator

PEFT_HINT = "LoRA needs the optional dependency peft: pip install 'nines[distill]' (or pip install peft)"


@dataclass
class TinyPolicyConfig:
    """Shape of the from-scratch policy (a Llama with tied embeddings).

    Attributes:
        hidden_size: model width; with the defaults about 2.0M parameters on StoryWorld's vocabulary.
        layers: transformer blocks.
        heads: attention heads (must divide ``hidden_size``).
        intermediate_size: MLP width.
        max_positions: longest prompt plus completion, in tokens.
    """

    hidden_size: int = 192
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 128

    def __post_init__(self) -> None:
        if min(self.hidden_size, self.layers, self.heads, self.intermediate_size, self.max_positions) < 1:
            raise ValueError("policy sizes (hidden_size, layers, heads, intermediate_size, max_positions) must be >= 1")
        if self.hidden_size % self.heads:
            raise ValueError(f"policy.heads ({self.heads}) must divide policy.hidden_size ({self.hidden_size})")


@dataclass
class LoraConfig:
    """Optional LoRA adapters for a large pretrained policy (needs ``peft``).

    Attributes:
        enabled: train adapters instead of every weight.
        r: adapter rank.
        alpha: adapter scaling numerator.
        dropout: adapter dropout.
        target_modules: module names to adapt; empty means peft's default for the architecture.
    """

    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise ValueError("lora.r and lora.alpha must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("lora.dropout must be in [0, 1)")


def build_tiny_policy(tokenizer: Any, config: TinyPolicyConfig, seed: int = 0) -> Any:
    """A freshly initialised ``LlamaForCausalLM`` sized by ``config`` for ``tokenizer``'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
        num_hidden_layers=config.layers, num_attention_heads=config.heads, num_key_value_heads=config.heads,
        max_position_embeddings=config.max_positions, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def load_policy(source: str | Path, lora: LoraConfig | None = None, device: str = "cpu") -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer from a folder or hub id, adding LoRA adapters when asked.

    The tokenizer gets a padding token (EOS) when it has none, and the generation config an EOS
    and padding token when it has none, so every stage samples and batches the same way.

    Raises:
        FileNotFoundError: when the folder or id cannot be loaded (offline, typo), with how to fix it.
        ImportError: when LoRA is asked for and ``peft`` is missing.
    """
    from nines.generate.hf import HFGeneratorConfig, _load

    model, tokenizer = _load(HFGeneratorConfig(model=str(source), device=device, dtype="float32"))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    gen = model.generation_config
    if gen.eos_token_id is None:
        gen.eos_token_id = tokenizer.eos_token_id
    if gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id
    if lora is not None and lora.enabled:
        model = add_lora(model, lora)
    return model.train(), tokenizer


def peft_config(lora: LoraConfig) -> Any:
    """The ``peft.LoraConfig`` for a causal LM (raises ImportError with an install hint without peft)."""
    try:
        from peft import LoraConfig as PeftLoraConfig
    except ImportError as e:
        raise ImportError(PEFT_HINT) from e
    return PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                          target_modules=list(lora.target_modules) or None)


def add_lora(model: Any, lora: LoraConfig) -> Any:
    """Wrap ``model`` with trainable LoRA adapters (base weights frozen)."""
    cfg = peft_config(lora)  # checks peft is installed first
    from peft import get_peft_model

    return get_peft_model(model, cfg)


def save_policy(model: Any, tokenizer: Any, folder: str | Path) -> Path:
    """Write a loadable policy folder; LoRA adapters are merged so the folder is a plain causal LM."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def count_parameters(model: Any) -> int:
    """Number of parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def policy_generator(source: str | Path | None = None, *, model: Any = None, tokenizer: Any = None,
                     max_new_tokens: int = 40, batch_size: int = 256, name: str | None = None) -> PolicyGenerator:
    """A :class:`HFGenerator` over a policy folder (or an in-memory model and tokenizer).

    The completion ends at the policy's end-of-sequence token (no sentence cut: a policy that
    learnt to write one sentence stops itself) and loses the leading space it was trained with.
    """
    from nines.generate.hf import HFGenerator, HFGeneratorConfig

    cfg = HFGeneratorConfig(model=str(source or "policy"), max_new_tokens=max_new_tokens, stop_at_sentence_end=False,
                            batch_size=batch_size, device="auto", dtype="float32")
    return PolicyGenerator(HFGenerator(cfg, model=model, tokenizer=tokenizer, name=name))


class PolicyGenerator:
    """A :class:`~nines.generate.base.Generator` over a policy: :class:`HFGenerator` whose completions
    lose the leading space the policy writes after the prompt (it was trained on " text").

    Attributes:
        model, tokenizer: the policy (for log-probabilities and KL).
    """

    def __init__(self, inner: HFGenerator) -> None:
        self.inner = inner
        self.name = inner.name
        self.model, self.tokenizer = inner.model, inner.tokenizer

    def generate(self, prompts: Any, n: int = 1, seed: int | None = None) -> list[list[Any]]:
        """Sample ``n`` completions per prompt (see :meth:`HFGenerator.generate`)."""
        rows = self.inner.generate(prompts, n=n, seed=seed)
        return [[replace(c, text=c.text.lstrip(" ")) for c in row] for row in rows]
