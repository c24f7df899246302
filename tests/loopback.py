"""An ASGI app served by a real uvicorn on 127.0.0.1 (any free port), in a background thread.

>>> from fastapi import FastAPI
>>> import httpx
>>> app = FastAPI()
>>> @app.get("/ping")
... def ping() -> str:
...     return "pong"
>>> with LoopbackServer(app) as server:
...     httpx.get(server.url("/ping")).json()
'pong'
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    """``app`` behind uvicorn on loopback; :meth:`stop` (or leaving the ``with``) shuts it down."""

    def __init__(self, app: Any, *, timeout: float = 10.0, name: str = "loopback-http") -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.port = int(self.server.servers[0].sockets[0].getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.base + path

    def stop(self) -> None:
        """Stop serving (requests in flight are drained)."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
