"""RL distillation with TRL: the classifier as reward, a KL penalty to the frozen starting policy.

RLOO (the default) subtracts ``beta * KL(pi || pi0)`` of each sampled completion from its reward,
the classic RLHF objective; GRPO adds the KL term to the loss instead. Either way the reference is
loaded afresh from the starting policy's folder and never trained. On one CPU this runs the tiny
StoryWorld policy; on GPUs launch the same command with ``accelerate launch`` (TRL's trainers are
Accelerate-native), and add LoRA for a large pretrained policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nines.distill.policy import LoraConfig
from nines.generate.base import PromptLike, prompt_texts

TRL_HINT = "RL distillation needs the optional dependency trl: pip install 'nines[distill]' (or pip install trl)"
ALGORITHMS = ("rloo", "grpo")


@dataclass
class RLConfig:
    """Settings of :func:`train_rl`.

    Attributes:
        algorithm: ``rloo`` (KL in the reward) or ``grpo`` (KL in the loss). TRL 1.x has no
            maintained PPO trainer, so PPO is not offered.
        steps: optimizer steps.
        beta: KL penalty weight; 1 targets the filtered policy exactly with the log_accept reward.
        lr: learning rate.
        prompts_per_step: distinct prompts per step.
        num_generations: completions per prompt (the leave-one-out / group baseline needs >= 2).
        max_completion_tokens: longest completion sampled.
        temperature: sampling temperature during training.
        checkpoint_every: save the policy every this many steps (0: only at the end) for the
            reward-and-failure-versus-sqrt(KL) curves.
        seed: training seed.
    """

    algorithm: str = "rloo"
    steps: int = 400
    beta: float = 0.1
    lr: float = 1e-4
    prompts_per_step: int = 16
    num_generations: int = 4
    max_completion_tokens: int = 32
    temperature: float = 1.0
    checkpoint_every: int = 50
    seed: int = 0
    lora: LoraConfig = field(default_factory=LoraConfig)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"rl.algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.steps < 1 or self.prompts_per_step < 1 or self.max_completion_tokens < 1:
            raise ValueError("rl.steps, rl.prompts_per_step and rl.max_completion_tokens must be >= 1")
        if self.num_generations < 2:
            raise ValueError("rl.num_generations must be >= 2 (the baseline is the other completions of the prompt)")
        if self.beta < 0 or not self.lr > 0 or not self.temperature > 0:
            raise ValueError("rl.beta must be >= 0, rl.lr and rl.temperature > 0")
        if self.checkpoint_every < 0:
            raise ValueError("rl.checkpoint_every must be >= 0")


@dataclass
class RLResult:
    """What :func:`train_rl` did.

    Attributes:
        policy_dir: folder of the final policy.
        checkpoints: ``(step, folder)`` of saved policies, the final one last.
        history: TRL's logged metrics per step (``reward``, ``kl`` and more).
        seconds: wall time.
    """

    policy_dir: Path
    checkpoints: list[tuple[int, Path]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _trl() -> Any:
    try:
        import trl
    except ImportError as e:
        raise ImportError(TRL_HINT) from e
    return trl


def _trainer_args(cfg: RLConfig, out: Path) -> Any:
    import torch

    trl = _trl()
    config_cls = trl.RLOOConfig if cfg.algorithm == "rloo" else trl.GRPOConfig
    batch = cfg.prompts_per_step * cfg.num_generations
    cpu = not torch.cuda.is_available()
    kwargs: dict[str, Any] = dict(
        output_dir=str(out / "trl"), max_steps=cfg.steps, learning_rate=cfg.lr, beta=cfg.beta,
        per_device_train_batch_size=batch, num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_tokens, temperature=cfg.temperature, top_p=1.0, top_k=0,
        logging_steps=1, save_strategy="no", report_to=[], seed=cfg.seed, use_cpu=cpu, bf16=False,
        lr_scheduler_type="constant", warmup_steps=0, disable_tqdm=True, dataloader_num_workers=0,
    )
    if cfg.algorithm == "grpo":
        kwargs["loss_type"] = "grpo"
    return config_cls(**kwargs)


def _callback(result: RLResult, cfg: RLConfig, out: Path, tokenizer: Any, progress: bool) -> Any:
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    from nines.distill.policy import save_policy

    bar = tqdm(total=cfg.steps, desc=f"rl ({cfg.algorithm})", unit="step", disable=not progress)

    class Track(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs and "reward" in logs:
                result.history.append({"step": float(state.global_step),
                                       **{k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}})
                bar.set_postfix(reward=f"{logs['reward']:.3f}", kl=f"{logs.get('kl', 0.0):.3f}")

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            bar.update(1)
            step = state.global_step
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                result.checkpoints.append((step, save_policy(model, tokenizer, out / "checkpoints" / f"step_{step}")))

        def on_train_end(self, *a: Any, **kw: Any) -> None:
            bar.close()

    return Track()


def train_rl(start_policy: str | Path, reward: Callable[..., list[float]], prompts: Sequence[PromptLike], cfg: RLConfig,
             out_dir: str | Path, progress: bool = True) -> RLResult:
    """Train a policy from ``start_policy`` (a folder) to maximise ``reward`` minus ``beta`` KL.

    Args:
        start_policy: folder of the starting policy; it is also the frozen KL reference.
        reward: ``(prompts, completions, **kwargs) -> list[float]`` (see :mod:`nines.distill.reward`).
        prompts: training prompts, :class:`~nines.generate.base.Prompt` objects or strings (cycled
            through; TRL sees their texts).
        cfg: algorithm and hyper-parameters.
        out_dir: the final policy goes to ``out_dir/policy``, checkpoints to ``out_dir/checkpoints``.
        progress: show a progress bar.
    """
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from nines.distill.policy import load_policy, peft_config, save_policy

    trl = _trl()
    out = Path(out_dir)
    if len(prompts) < cfg.prompts_per_step:
        raise ValueError(f"need at least rl.prompts_per_step={cfg.prompts_per_step} training prompts, got {len(prompts)}")
    # TRL builds the frozen reference from the loaded model's name_or_path: the start folder or hub id.
    model, tokenizer = load_policy(start_policy)
    tokenizer.padding_side = "left"
    result = RLResult(policy_dir=out / "policy")
    trainer_cls = trl.RLOOTrainer if cfg.algorithm == "rloo" else trl.GRPOTrainer
    t0 = time.time()
    trainer = trainer_cls(
        model=model, reward_funcs=reward, args=_trainer_args(cfg, out),
        train_dataset=Dataset.from_dict({"prompt": prompt_texts(prompts)}), processing_class=tokenizer,
        callbacks=[_callback(result, cfg, out, tokenizer, progress)],
        peft_config=peft_config(cfg.lora) if cfg.lora.enabled else None,
    )
    trainer.remove_callback(PrinterCallback)  # our own bar and history replace TRL's printed dicts
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    save_policy(trainer.model, tokenizer, result.policy_dir)
    result.checkpoints.append((cfg.steps, result.policy_dir))
    result.seconds = time.time() - t0
    return result
