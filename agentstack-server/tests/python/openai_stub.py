"""A local stand-in for the OpenAI chat-completions API, for the AutoGen runs.

`StubOpenAI` serves POST /v1/chat/completions on 127.0.0.1 (a free port) from a thread, with
`usage` in every answer. Its answers are a fixed script that depends only on the request, so
the runs are repeatable: a request that offers tools and holds no tool result yet gets a call of
get_weather(city="Paris"); any other request gets the summary text with TERMINATE, so that the
team stops. Used by the autogen_*.py scripts of agentstack-server/tests/python_clients.rs.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: (prompt_tokens, completion_tokens) of the tool-call answer and of the text answer.
TOOL_CALL_USAGE = (51, 12)
TEXT_USAGE = (83, 14)
SUMMARY = "It is sunny in Paris today. TERMINATE"


def _answer(request: dict) -> dict:
    messages = request.get("messages", [])
    wants_tool = bool(request.get("tools")) and not any(m.get("role") == "tool" for m in messages)
    if wants_tool:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_weather_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
                }
            ],
        }
        finish_reason, (prompt, completion) = "tool_calls", TOOL_CALL_USAGE
    else:
        message = {"role": "assistant", "content": SUMMARY}
        finish_reason, (prompt, completion) = "stop", TEXT_USAGE
    return {
        "id": "chatcmpl-stub-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request.get("model", "gpt-4o-mini") + "-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self.send_error(404, "the stub serves /v1/chat/completions only")
            return
        body = json.dumps(_answer(request)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


class StubOpenAI:
    """The stub server, started on enter and stopped on exit; `base_url` is its /v1."""

    def __enter__(self) -> "StubOpenAI":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
