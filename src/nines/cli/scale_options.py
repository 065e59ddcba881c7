"""``--ray`` options shared by ``nines score`` and ``nines filter`` (scale-out on a Ray cluster)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

RAY_HELP = ("Run on Ray Data: 'local' starts a local cluster, 'auto' joins the one on this machine "
            "(`ray start --head`), 'ray://HOST:PORT' connects to a remote one. Needs `pip install 'nines[ray]'`.")


def ray_options(fn: F) -> F:
    """Add ``--ray ADDRESS`` and ``--ray-workers N`` to a verb."""
    fn = click.option("--ray-workers", "ray_workers", default=2, show_default=True,
                      help="Ray workers; each loads the classifier (and generator) once.")(fn)
    fn = click.option("--ray", "ray_address", default=None, metavar="ADDRESS", help=RAY_HELP)(fn)
    return fn


def ray_config(address: str, workers: int, batch_size: int = 256) -> Any:
    """A :class:`nines.scale.ray_batch.RayConfig`; bad values and a missing Ray are one-line errors."""
    from nines.scale.ray_batch import RayConfig, import_ray

    try:
        cfg = RayConfig(address=address, concurrency=workers, batch_size=batch_size)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    try:
        import_ray()
    except ImportError as e:
        raise click.ClickException(str(e)) from None
    return cfg
