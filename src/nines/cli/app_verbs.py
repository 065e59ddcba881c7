"""CLI verbs for the web app: ``nines serve`` and ``nines user``."""

from __future__ import annotations

import os

import click

from nines.cli.common import user_errors
from nines.cli.task_options import only_task, task_argument

DB_HELP = "The store: a SQLite file path (default runs/app/nines.db) or a postgresql:// URL."
PASSWORD_ENV = "NINES_PASSWORD"
#: The task ``nines serve`` serves when no ``task=`` is given (a built-in name or a task YAML).
TASK_ENV = "NINES_TASK"


def _settings(db: str, **kwargs: object) -> object:
    try:
        from nines.app.settings import AppSettings
    except ImportError as e:  # pragma: no cover - only without the server extra
        raise click.ClickException(f"the web app needs its extras: pip install 'nines[server]' ({e})") from None
    return AppSettings(db_url=db, **kwargs)  # type: ignore[arg-type]


def _password(prompt: str) -> str:
    """The password from $NINES_PASSWORD (for scripts) or typed twice at a hidden prompt."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))


def _create_user(db: str, name: str, roles: str) -> None:
    from nines.app import accounts
    from nines.app.db import Database
    from nines.app.errors import AppError
    from nines.app.security import Passwords

    password = _password(f"password for {name}")
    database = Database(db)
    try:
        with database.write() as conn:
            user = accounts.create_user(conn, Passwords(), name, password, roles)
    except AppError as e:
        raise click.ClickException(e.message) from None
    finally:
        database.close()
    click.echo(f"created user {user.username!r} with roles {', '.join(sorted(user.roles))}")


@click.command()
@click.option("--db", default="runs/app/nines.db", show_default=True, help=DB_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--classifier", "classifier_dir", type=click.Path(file_okay=False, exists=True),
              help="A folder from `nines train`: enables the playground's scores and active-learning queues.")
@click.option("--generator", default="storyworld", show_default=True,
              help="Playground generator: storyworld, hf:<path>, openai:<url>#<model> or llama2c:<dir>.")
@click.option("--runs", "runs_dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Folder scanned for classifier versions and run summaries shown on the dashboard.")
@click.option("--create-admin", "admin_name", metavar="NAME",
              help=f"Create this admin account first (password from ${PASSWORD_ENV} or a prompt).")
@click.option("--cookie-secure", is_flag=True,
              help="Mark cookies Secure and send Strict-Transport-Security (serve behind HTTPS).")
@click.option("--forwarded-allow-ips", metavar="IPS",
              help="Comma-separated addresses of trusted reverse proxies (or '*'): only requests from them "
                   "have X-Forwarded-For/-Proto honoured. Default: none, the socket's address is the client's.")
@click.option("--public-url", metavar="URL",
              help="The app's address as users reach it (https://nines.example.org); invite links use it. "
                   "Default: invite links are paths, completed by the admin's browser.")
@task_argument
@user_errors
def serve(db: str, host: str, port: int, classifier_dir: str | None, generator: str, runs_dir: str,
          admin_name: str | None, cookie_secure: bool, forwarded_allow_ips: str | None,
          public_url: str | None, overrides: tuple[str, ...]) -> None:
    """Start the web app for labelling, pairwise comparison and red-teaming.

    task=NAME|FILE (or $NINES_TASK) is the predicate labellers judge: its label names go on the
    buttons, its Markdown is the default instructions. Default: the classifier's task, else injury.

    \b
    Example:
      nines serve --create-admin alice                 # first run: make an admin, then serve
      nines serve --db postgresql://u:p@host/nines --classifier runs/demo/classifier --port 8080
      nines serve --cookie-secure --forwarded-allow-ips 10.0.0.5 --public-url https://nines.example.org
      nines serve --db st.db task=safetext             # label SafeText: unsafe / safe
    Then open http://127.0.0.1:8000/ and log in. See docs/app.md.
    """
    env_task = os.environ.get(TASK_ENV, "").strip()
    if env_task and not any(o.split("=", 1)[0].strip() == "task" for o in overrides):
        overrides = (f"task={env_task}", *overrides)
    task = only_task(overrides, classifier_dir)  # a task the classifier was not trained for: an error
    settings = _settings(db, classifier_dir=classifier_dir, generator=generator, runs_dir=runs_dir,
                         cookie_secure=cookie_secure, public_url=public_url, task=task)  # a bad URL: a one-line error
    if admin_name:
        _create_user(db, admin_name, "admin")
    import uvicorn

    from nines.app import create_app

    app = create_app(settings)
    click.echo(f"nines serve: http://{host}:{port}/ (store: {db}, task: {task.name})")
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, which would let any local client
    # (or a proxy that does not set the header) choose its own address and dodge the login limits.
    proxies = forwarded_allow_ips.strip() if forwarded_allow_ips and forwarded_allow_ips.strip() else None
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5,
                proxy_headers=proxies is not None, forwarded_allow_ips=proxies)


@click.group()
def user() -> None:
    """Manage web-app accounts from the shell (admins can also do this in the app).

    \b
    Example:
      NINES_PASSWORD=... nines user create alice --role admin
      nines user token alice
    """


@user.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "labeller", "rater", "redteamer"]), help="Repeat for several roles.")
@click.option("--db", default="runs/app/nines.db", show_default=True, help=DB_HELP)
@user_errors
def user_create(name: str, roles: tuple[str, ...], db: str) -> None:
    """Create an account (password from $NINES_PASSWORD or a prompt).

    \b
    Example:
      nines user create bob --role labeller --role rater
    """
    _create_user(db, name, ",".join(roles))


@user.command("token")
@click.argument("name")
@click.option("--token-name", default="cli", show_default=True, help="A label for the token.")
@click.option("--db", default="runs/app/nines.db", show_default=True, help=DB_HELP)
@user_errors
def user_token(name: str, token_name: str, db: str) -> None:
    """Print a new API token for a user (send it as 'Authorization: Bearer <token>').

    \b
    Example:
      nines user token bob > bob.token
    """
    from nines.app import accounts
    from nines.app.db import Database

    database = Database(db)
    try:
        with database.write() as conn:
            row = accounts.find_login(conn, name)
            if row is None:
                raise click.ClickException(f"no active user named {name!r}")
            _, token = accounts.create_token(conn, row.id, token_name)
    finally:
        database.close()
    click.echo(token)
