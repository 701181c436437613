"""A scripted, local, OpenAI-compatible chat server for tests and benches.

It listens on ``127.0.0.1`` on an ephemeral port and answers ``POST
/v1/chat/completions`` from a queue of scripted replies, so the chat loop can be driven
through litellm's real HTTP path with no network and no Python mocks::

    with ScriptedLLMServer() as server:
        server.script(
            tool_calls_reply(ToolCallScript("crm__search_contacts", {"query": "ada"})),
            text_reply("Ada is a lead."),
        )
        ...  # call litellm with api_base=server.base_url, model="openai/scripted"
        assert server.requests[0].tool_names == ["crm__search_contacts", ...]

Streaming replies are Server-Sent Events sent with chunked transfer encoding: text is
cut into small pieces, each tool call's arguments are split mid-JSON across chunks,
several tool calls may share one reply and the usage comes in the final chunk. Replies
can also be HTTP errors (429, 500, ...), malformed tool arguments, unknown tool names or
slow. Every request is recorded. ``stop()`` ends every connection and joins every
thread. The :func:`llm_server` pytest fixture starts one server per test.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .llm_script import (
    ReceivedRequest,
    Reply,
    Responder,
    ToolCallScript,
    error_reply,
    estimate_usage,
    pieces,
    text_reply,
    tool_calls_reply,
)

__all__ = [
    "ReceivedRequest",
    "Reply",
    "Responder",
    "ScriptedLLMServer",
    "ToolCallScript",
    "error_reply",
    "llm_server",
    "text_reply",
    "tool_calls_reply",
]

COMPLETIONS_PATHS = ("/v1/chat/completions", "/chat/completions")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the recorded requests instead."""

    def do_GET(self) -> None:
        """Answer ``/v1/models`` (some clients probe it); 404 for anything else."""
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send_json(
                200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]}
            )
            return
        self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        """Answer a chat completion from the script."""
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        request = ReceivedRequest(
            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        if self.path.split("?")[0] not in COMPLETIONS_PATHS:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        owner = self.server.owner
        reply = owner._next_reply(request)
        if reply.delay and owner._stopping.wait(reply.delay):
            return
        try:
            if reply.status != 200:
                self._send_error_reply(reply)
            elif request.stream:
                self._send_stream(request, reply)
            else:
                self._send_json(200, self._completion(request, reply), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            owner._account(time.perf_counter() - started - reply.delay)

    # -- replies -----------------------------------------------------------------------
    def _send_json(
        self, status: int, payload: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error_reply(self, reply: Reply) -> None:
        kind = {429: "rate_limit_error", 401: "authentication_error"}.get(reply.status, "api_error")
        payload = {
            "error": {"message": reply.error_message, "type": kind, "code": str(reply.status)}
        }
        self._send_json(reply.status, payload, reply.headers)

    def _completion(self, request: ReceivedRequest, reply: Reply) -> dict[str, Any]:
        owner = self.server.owner
        prompt, completion = estimate_usage(request, reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        calls = owner._call_ids(reply)
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_text()},
                }
                for call_id, call in zip(calls, reply.tool_calls, strict=True)
            ]
        return {
            "id": owner._completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model", "scripted"),
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
            "usage": _usage(prompt, completion),
        }

    def _send_stream(self, request: ReceivedRequest, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        for event in self._stream_events(request, reply):
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
            if reply.chunk_delay and self.server.owner._stopping.wait(reply.chunk_delay):
                return
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream_events(self, request: ReceivedRequest, reply: Reply) -> Iterator[dict[str, Any]]:
        owner = self.server.owner
        base = {
            "id": owner._completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.body.get("model", "scripted"),
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": ""})
        for piece in pieces(reply.text, reply.chunk_size):
            yield chunk({"content": piece})
        for index, (call_id, call) in enumerate(
            zip(owner._call_ids(reply), reply.tool_calls, strict=True)
        ):
            head = {"index": index, "id": call_id, "type": "function"}
            yield chunk(
                {"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}
            )
            for piece in pieces(call.arguments_text(), reply.chunk_size):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        prompt, completion = estimate_usage(request, reply)
        final = chunk({}, _finish(reply))
        options = request.body.get("stream_options") or {}
        if options.get("include_usage"):
            yield final
            yield {**base, "choices": [], "usage": _usage(prompt, completion)}
        else:
            yield {**final, "usage": _usage(prompt, completion)}


def _finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: ScriptedLLMServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up (and connections cut by ``stop``)."""
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ScriptedLLMServer:
    """An OpenAI-compatible server on ``127.0.0.1`` answering from a script.

    Replies are taken in order from the queue filled by :meth:`script`; when the queue is
    empty, ``responder`` (if set) builds the reply, otherwise the server answers 500 with
    "script exhausted" so a test that makes an unexpected call fails visibly.
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder
        self.requests: list[ReceivedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self._handled_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> ScriptedLLMServer:
        """Start serving in a background thread; return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: end slow replies, close every connection, join every thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("the scripted LLM server is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The API base to give a client (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script ------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Append replies to the queue, answered in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many scripted replies are still unused."""
        with self._lock:
            return len(self._queue)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Wait until ``count`` requests have arrived; return them (TimeoutError if not)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests after {timeout}s")
            return list(self.requests)

    @property
    def handled_seconds(self) -> float:
        """Total time spent producing replies (not counting scripted delays)."""
        with self._lock:
            return self._handled_seconds

    def reset_stats(self) -> None:
        """Forget the recorded requests and the handled time."""
        with self._lock:
            self.requests.clear()
            self._handled_seconds = 0.0

    # -- used by the handler -----------------------------------------------------------
    def _next_reply(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        return error_reply(500, "script exhausted: no reply scripted for this request")

    def _account(self, seconds: float) -> None:
        with self._lock:
            self._handled_seconds += max(0.0, seconds)

    def _completion_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chatcmpl-scripted-{self._counter}"

    def _call_ids(self, reply: Reply) -> list[str]:
        ids: list[str] = []
        for call in reply.tool_calls:
            if call.id is not None:
                ids.append(call.id)
                continue
            with self._lock:
                self._counter += 1
                ids.append(f"call_{self._counter}")
        return ids


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A started :class:`ScriptedLLMServer`, stopped when the test ends."""
    server = ScriptedLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
