"""CLI verbs that deploy: ``nines proxy`` (the filtering proxy) and ``nines serve-model`` (a generator server)."""

from __future__ import annotations

import click

from nines.cli.common import config_options, make_generator, resolve, user_errors

_SPECS = "storyworld, hf:<path>, openai:<url>#<model> or llama2c:<dir>"


def _uvicorn() -> object:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as e:  # pragma: no cover - only without the extra
        raise click.ClickException(f"serving needs its extras: pip install 'nines[proxy]' ({e})") from None
    return uvicorn


@click.command(name="serve-model")
@click.option("--generator", "spec", default="storyworld", show_default=True, help=f"Generator spec: {_SPECS}.")
@click.option("--model-name", default=None, help="The id clients pass as `model` (default: the generator's name).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@user_errors
def serve_model(spec: str, model_name: str | None, host: str, port: int) -> None:
    """Serve any nines generator as an OpenAI-compatible API (/v1/completions, /v1/chat/completions).

    \b
    Example:
      nines serve-model --generator llama2c:../shared/models/stories260K --port 8001
      curl -s localhost:8001/v1/completions -H 'content-type: application/json' \\
           -d '{"prompt": "Once upon a time", "max_tokens": 30}'
    """
    uvicorn = _uvicorn()
    from nines.generate.server import create_app

    gen, _ = make_generator(spec)
    name = model_name or str(getattr(gen, "name", spec))
    click.echo(f"serving {spec} as model {name!r} on http://{host}:{port}/v1", err=True)
    uvicorn.run(create_app(gen, name), host=host, port=port, log_level="warning")  # type: ignore[attr-defined]


@click.command()
@click.option("--classifier", "clf_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="A classifier folder from `nines train` / `nines calibrate`.")
@click.option("--upstream", default=None, help="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8001/v1.")
@click.option("--upstream-model", default=None, help="Model name sent upstream (default: the first of its /v1/models).")
@click.option("--generator", "spec", default=None, help=f"Sample from a local generator instead: {_SPECS}.")
@click.option("--model-name", default=None, help="The id this proxy serves under (default: the upstream's model).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--api-key", default=None, envvar="NINES_PROXY_API_KEY",
              help="Require 'Authorization: Bearer KEY' on /v1/* (also $NINES_PROXY_API_KEY).")
@click.option("--max-n", default=8, show_default=True, type=click.IntRange(1), help="Largest n per request.")
@click.option("--max-tokens", default=512, show_default=True, type=click.IntRange(1), help="Largest max_tokens.")
@click.option("--max-body-bytes", default=1_000_000, show_default=True, type=click.IntRange(1))
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Seconds per upstream call; past it (after retries) the answer is 504.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(0), help="Upstream retries.")
@click.option("--chat-prompt", default="joined", show_default=True,
              type=click.Choice(["joined", "last_user", "transcript"]),
              help="How a conversation becomes the classifier's prompt (see docs in nines.proxy.chat).")
@config_options
@user_errors
def proxy(clf_dir: str, upstream: str | None, upstream_model: str | None, spec: str | None,
          model_name: str | None, host: str, port: int, api_key: str | None, max_n: int, max_tokens: int,
          max_body_bytes: int, timeout_s: float, retries: int, chat_prompt: str, config_path: str | None,
          overrides: tuple[str, ...]) -> None:
    """An OpenAI-compatible server that rejection-samples every choice with the classifier.

    --config is the filter config (e.g. runs/demo/filter.yaml); KEY=VALUE overrides its fields.

    \b
    Example:
      nines serve-model --generator llama2c:../shared/models/stories260K --port 8001 &
      nines proxy --classifier runs/demo/classifier --config runs/demo/filter.yaml \\
                  --upstream http://127.0.0.1:8001/v1 --port 8000 strategy=batch_safest
    """
    if (upstream is None) == (spec is None):
        raise click.UsageError("give exactly one of --upstream URL or --generator SPEC")
    uvicorn = _uvicorn()
    from nines.classify.encoder import EncoderClassifier
    from nines.filter import FilterConfig
    from nines.proxy.app import create_proxy_app
    from nines.proxy.config import ProxyConfig

    fcfg = resolve(FilterConfig, config_path, overrides)
    pcfg = ProxyConfig(upstream=upstream, upstream_model=upstream_model, model_name=model_name, api_key=api_key,
                       max_n=max_n, max_tokens=max_tokens, max_body_bytes=max_body_bytes, timeout_s=timeout_s,
                       max_retries=retries, chat_prompt=chat_prompt)  # type: ignore[arg-type]
    clf = EncoderClassifier.load(clf_dir)
    gen = make_generator(spec)[0] if spec else None
    app = create_proxy_app(clf, fcfg, pcfg, generator=gen)
    source = upstream or spec
    click.echo(f"nines proxy on http://{host}:{port}/v1 -> {source} (strategy={fcfg.strategy}, "
               f"max_attempts={fcfg.max_attempts}, fallback={fcfg.fallback})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")  # type: ignore[attr-defined]
