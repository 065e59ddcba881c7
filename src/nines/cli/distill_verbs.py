"""``nines distill``: train one generator that has internalised the filter, and compare it with the filter."""

from __future__ import annotations

from pathlib import Path

import click

from nines.cli.common import config_options, resolve, user_errors


@click.command()
@click.option("--classifier", "clf_dir", type=click.Path(file_okay=False),
              help="Calibrated classifier (reward and filter). [default: runs/demo/classifier]")
@click.option("--start-policy", help="Folder or hub id of the policy to start from; omit to train the tiny "
                                     "StoryWorld policy from scratch.")
@click.option("--output", type=click.Path(file_okay=False), help="Run folder. [default: runs/distill]")
@config_options
@user_errors
def distill(clf_dir: str | None, start_policy: str | None, output: str | None, config_path: str | None,
            overrides: tuple[str, ...]) -> None:
    """Distil the filter into one policy (best-of-n and RL) and measure it like the filter.

    Trains (or loads) a starting policy that imitates the unfiltered generator, fine-tunes it on
    filter-accepted completions (best-of-n / expert iteration) and trains it by RL (TRL RLOO or
    GRPO) with the classifier's log acceptance probability as reward and a KL penalty to the
    start. Then every policy continues the same fresh StoryWorld prompts: oracle failure rate with
    exact bounds, classifier-flagged rate, KL to the start, win rate against the unfiltered policy
    and generator calls per completion. Writes OUTPUT/results.json, OUTPUT/kl_curves.png and the
    policies (each a save_pretrained folder any `hf:` generator loads).

    \b
    Examples:
      nines distill --classifier runs/demo/classifier
      nines distill rl.algorithm=grpo rl.beta=0.3 methods=rl
      accelerate launch -m nines distill --start-policy my-org/story-lm rl.lora.enabled=true
    """
    from nines.recipes.distill import DistillConfig
    from nines.recipes.distill import distill as distill_recipe

    cfg = resolve(DistillConfig, config_path, overrides, classifier=clf_dir, start_policy=start_policy, output=output)
    if not Path(cfg.classifier).is_dir():
        raise click.UsageError(f"classifier folder {cfg.classifier} does not exist; run `nines demo` first "
                               "or pass --classifier")
    try:
        distill_recipe(cfg)
    except ImportError as e:
        raise click.ClickException(str(e)) from None
