"""Generators: anything that samples n completions per prompt with log-probabilities."""

from nines.generate.base import (
    Completion,
    Generator,
    Prompt,
    PromptLike,
    as_prompt,
    as_prompts,
    prompt_text,
    prompt_texts,
    text_prompt_id,
)

__all__ = [
    "Completion",
    "Generator",
    "Prompt",
    "PromptLike",
    "as_prompt",
    "as_prompts",
    "prompt_text",
    "prompt_texts",
    "text_prompt_id",
]
