"""``nines <verb>``: the loop's verbs, the red-teaming verbs and the web app."""

from __future__ import annotations

import click

from nines import __version__
from nines.cli.adversarial_verbs import adversarial_train, attack, saliency
from nines.cli.app_verbs import serve, user
from nines.cli.data_verbs import generate, label, score
from nines.cli.distill_verbs import distill
from nines.cli.model_verbs import calibrate, filter_cmd, train
from nines.cli.run_verbs import demo, evaluate
from nines.cli.serve_verbs import proxy, serve_model
from nines.cli.task_verbs import measure


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nines")
def cli() -> None:
    """nines: make a generator never describe an injury, and measure how many nines it got.

    \b
    The loop: generate -> label -> train -> calibrate -> filter -> evaluate.
    Any task (task=safetext, task=my_task.yaml): measure checks a filter against an exact oracle.
    Red-teaming: saliency, attack, adversarial-train. Distillation: distill.
    People: serve (the web app), user. Deploying: proxy (the filter as an OpenAI API), serve-model.
    Start with `nines demo`; every verb has --help with an example.
    """


for _cmd in (generate, label, train, calibrate, filter_cmd, score, evaluate, demo, saliency, attack,
             adversarial_train, distill, serve, user, proxy, serve_model, measure):
    cli.add_command(_cmd)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
