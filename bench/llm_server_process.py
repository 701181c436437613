"""The scripted LLM server in a process of its own, for the chat benchmarks.

In the benchmark's own process the server's threads would compete with the loop being
measured for the interpreter lock: its time is subtracted from each round, but the time
the loop spends waiting for the lock while the server holds it is not, and it lands
unevenly on the loops compared. In a child process the server costs the loops nothing
but the time they wait for its replies, which it reports (``handled_seconds``) and the
benchmark subtracts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from fleetprompt_host.testing.llm_server import Responder, ScriptedLLMServer


class _Reporting(ScriptedLLMServer):
    """A scripted server that also adds its handled time to a shared counter."""

    def __init__(self, responder: Responder, handled: Synchronized[float]) -> None:
        super().__init__(responder)
        self._shared = handled

    def _account(self, seconds: float) -> None:
        super()._account(seconds)
        with self._shared.get_lock():
            self._shared.value += max(0.0, seconds)


def _serve(responder: Responder, handled: Synchronized[float], pipe: Connection) -> None:
    with _Reporting(responder, handled) as server:
        pipe.send(server.base_url)
        pipe.recv()  # anything, or the parent's end closing, means stop


class ServerProcess:
    """A :class:`ScriptedLLMServer` answering with ``responder`` in a child process.

    ``responder`` must be importable by name (a module-level function): the child is
    spawned, not forked, as the parent may hold threads and connections.
    """

    def __init__(self, responder: Responder) -> None:
        context = multiprocessing.get_context("spawn")
        self._handled: Synchronized[float] = context.Value("d", 0.0)  # type: ignore[assignment]
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(responder, self._handled, child), daemon=True
        )
        self._process.start()
        child.close()
        try:
            if not self._pipe.poll(60):
                raise RuntimeError("the scripted LLM server process did not start within 60 s")
            self.base_url: str = self._pipe.recv()
        except EOFError:
            self.stop()
            raise RuntimeError(
                "the scripted LLM server process ended before it started serving "
                "(a spawned child imports the main module: is its work under "
                "`if __name__ == '__main__'`?)"
            ) from None
        except BaseException:
            self.stop()
            raise

    @property
    def handled_seconds(self) -> float:
        """Total time the server spent producing replies."""
        with self._handled.get_lock():
            return float(self._handled.value)

    def stop(self) -> None:
        """Stop the server and wait for its process to end."""
        with contextlib.suppress(OSError):
            self._pipe.send("stop")
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._pipe.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
