"""The scripted OpenAI-compatible server the chat tests drive litellm against."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest

from fleetprompt_host.testing.llm_server import (
    ScriptedLLMServer,
    ToolCallScript,
    error_reply,
    text_reply,
    tool_calls_reply,
)


def _post(server: ScriptedLLMServer, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _events(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for line in raw.decode().splitlines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def _request(stream: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": "scripted",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        **extra,
    }


def test_streamed_tool_calls_arrive_split_mid_json_and_reassemble(
    llm_server: ScriptedLLMServer,
) -> None:
    first = ToolCallScript("crm__search_contacts", {"query": "ada lovelace", "limit": 5}, id="c1")
    second = ToolCallScript("forums__list_threads", {}, id="c2")
    llm_server.script(tool_calls_reply(first, second, chunk_size=5))

    status, _, raw = _post(llm_server, _request(True))

    events = _events(raw)
    assert status == 200 and events[-1] == "[DONE]"
    pieces: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    for event in events[:-1]:
        for delta in (c["delta"] for c in event["choices"]):
            for call in delta.get("tool_calls") or []:
                names.setdefault(call["index"], call["function"].get("name") or "")
                pieces.setdefault(call["index"], []).append(call["function"]["arguments"])
    assert names == {0: "crm__search_contacts", 1: "forums__list_threads"}
    assert len([p for p in pieces[0] if p]) > 1, "arguments must be split across chunks"
    assert not all(_is_json(p) for p in pieces[0] if p)
    assert json.loads("".join(pieces[0])) == {"query": "ada lovelace", "limit": 5}
    assert events[-2]["usage"]["total_tokens"] > 0


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_usage_comes_in_a_separate_final_chunk_when_the_client_asks_for_it(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script(text_reply("hello there", usage=(11, 3)))

    _, _, raw = _post(llm_server, _request(True, stream_options={"include_usage": True}))

    events = _events(raw)
    assert events[-2]["choices"] == []
    assert events[-2]["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events[:-2] if e["choices"]
    )
    assert text == "hello there"


def test_non_streamed_reply_carries_malformed_arguments_verbatim(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script(tool_calls_reply(ToolCallScript("nope__missing", '{"x": ', id="c9")))

    status, headers, raw = _post(llm_server, _request(False))

    body = json.loads(raw)
    assert status == 200 and headers["Content-Type"] == "application/json"
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call == {
        "id": "c9",
        "type": "function",
        "function": {"name": "nope__missing", "arguments": '{"x": '},
    }
    assert body["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("status", [429, 500, 401])
def test_error_replies_have_the_status_and_an_openai_error_body(
    llm_server: ScriptedLLMServer, status: int
) -> None:
    llm_server.script(error_reply(status, "slow down", headers=(("Retry-After", "0"),)))

    got, headers, raw = _post(llm_server, _request(True))

    assert got == status
    assert json.loads(raw)["error"]["message"] == "slow down"
    assert headers["Retry-After"] == "0"


def test_an_exhausted_script_answers_500_naming_the_problem(llm_server: ScriptedLLMServer) -> None:
    status, _, raw = _post(llm_server, _request(False))

    assert status == 500
    assert "script exhausted" in json.loads(raw)["error"]["message"]


def test_requests_are_recorded_with_messages_and_tools(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(text_reply("ok"))
    tools = [{"type": "function", "function": {"name": "crm__get_contact", "parameters": {}}}]

    _post(llm_server, _request(False, tools=tools))

    (request,) = llm_server.wait_for_requests(1)
    assert request.tool_names == ["crm__get_contact"]
    assert request.messages == [{"role": "user", "content": "hi"}]
    assert request.stream is False


def test_a_responder_answers_once_the_queue_is_empty(llm_server: ScriptedLLMServer) -> None:
    llm_server.responder = lambda request: text_reply(f"seen {len(request.messages)}")
    llm_server.script(text_reply("scripted first"))

    answers = [json.loads(_post(llm_server, _request(False))[2]) for _ in range(2)]

    contents = [a["choices"][0]["message"]["content"] for a in answers]
    assert contents == ["scripted first", "seen 1"]


def test_stop_ends_a_slow_reply_and_joins_every_thread() -> None:
    before = set(threading.enumerate())
    server = ScriptedLLMServer().start()
    server.script(text_reply("late", delay=30))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            _post(server, _request(False))
        except BaseException as exc:  # the connection is cut by stop()
            errors.append(exc)

    client = threading.Thread(target=call)
    client.start()
    server.wait_for_requests(1)
    started = time.perf_counter()
    server.stop()
    client.join(timeout=10)

    assert time.perf_counter() - started < 5
    assert not client.is_alive()
    assert errors, "the slow reply must not have been answered"
    assert set(threading.enumerate()) <= before
    assert not server.running


def test_keep_alive_connections_are_closed_by_stop() -> None:
    server = ScriptedLLMServer().start()
    server.script(text_reply("one"), text_reply("two"))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(_request(True)))
    first = conn.getresponse().read()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(_request(False)))
    second = json.loads(conn.getresponse().read())

    server.stop()

    assert _events(first)[-1] == "[DONE]"
    assert second["choices"][0]["message"]["content"] == "two"
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("POST", "/v1/chat/completions", body=json.dumps(_request(False)))
        conn.getresponse()
    conn.close()
