"""``nines proxy``: an OpenAI-compatible server that rejection-samples every choice with the filter.

Import :func:`nines.proxy.app.create_proxy_app` (needs the ``server`` extra: fastapi, uvicorn);
this package's ``__init__`` imports nothing heavy, so the pure parts (chat rendering, config)
work without it.
"""

from nines.proxy.config import REFUSED_FINISH_REASON, ProxyConfig

__all__ = ["REFUSED_FINISH_REASON", "ProxyConfig"]
