"""``python -m nines`` (and ``accelerate launch -m nines``) runs the CLI."""

from nines.cli.main import main

main()
