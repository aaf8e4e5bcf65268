"""One ASGI middleware for every HTTP request: body-size limit, time limit, and request metrics."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics
from .settings import Settings


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Refuses bodies past the upload limit (413), answers 504 past the time limit, and counts every request."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics):
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        seen = {"status": 500, "started": False, "closed": False}

        async def guarded_send(message: Message) -> None:
            if seen["closed"]:
                return  # the request already got its 504; drop the late answer
            if message["type"] == "http.response.start":
                seen.update(status=message["status"], started=True)
            await send(message)

        try:
            replay = await self._read_body(scope, receive)
            if replay is None:
                limit = self.settings.max_upload_mb
                await _send_error(guarded_send, 413, "too_large",
                                  f"request body exceeds the {limit:g} MB upload limit. Send a smaller image "
                                  "(resize it to about 1000 px), or start the server with a larger --max-upload-mb")
                return
            await self._run(scope, replay, guarded_send, seen)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope.get("method", ""), label, seen["status"], time.perf_counter() - t0)

    async def _run(self, scope: Scope, receive: Receive, send: Send, seen: dict) -> None:
        """Run the app with a deadline; a late worker thread finishes on its own, its answer dropped."""
        task = asyncio.ensure_future(self.app(scope, receive, send))
        done, _ = await asyncio.wait({task}, timeout=self.settings.request_timeout_s)
        if done:
            task.result()
            return
        if not seen["started"]:
            await _send_error(send, 504, "timeout",
                              f"request took longer than the {self.settings.request_timeout_s:g} s limit. Retry, "
                              "send a smaller image, or raise --timeout")
        seen["closed"] = True
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        task.cancel()

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """Read the whole body up to the limit; None when it is larger. Returns a receive that replays it."""
        limit = self.settings.max_upload_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
