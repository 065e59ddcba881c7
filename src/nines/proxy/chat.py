"""The chat rendering rules' old import path: they are :mod:`nines.generate.chat`.

Moved down a layer because the generator server (:mod:`nines.generate.server`) renders chats too, and
the generators must not import the proxy that is built on them.
"""

from nines.generate.chat import ROLES, message_text, render_messages

__all__ = ["ROLES", "message_text", "render_messages"]
