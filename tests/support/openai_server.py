"""A small real OpenAI-compatible HTTP server for tests and benchmarks: scripted replies (with
`reasoning_content`, 429s, 500s, empty bodies, length finishes), a fixed latency, a log of every request, a
gate that holds requests (to kill a client while they are in flight), and a fault mode: a seeded fraction of
requests get an HTTP 200 whose body is empty or not JSON."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CALL_HEADER = "X-Distill-Call"


@dataclass
class Reply:
    content: str = ""
    reasoning_content: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    prompt_tokens: int = 20
    completion_tokens: int = 10
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Logged:
    call_key: str | None
    messages: list[dict[str, Any]]
    status: int
    delivered: bool = False  # the full response was written (a held request killed with its client is not)
    fault: bool = False  # answered with a faulty 200 body (fault mode)
    authorization: str | None = None  # the request's Authorization header ("Bearer <key>")


Responder = Callable[[dict[str, Any]], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default backlog of 5 resets connections when many clients connect at once
    daemon_threads = True


class OpenAIServer:
    """`with OpenAIServer(responder, latency_s=0.2) as server: server.base_url ...`"""

    def __init__(self, responder: Responder, latency_s: float = 0.0, port: int = 0, fault_rate: float = 0.0,
                 fault_body: bytes = b"", fault_seed: int = 0, fault_content_type: str = "application/json"):
        self.responder = responder
        self.latency_s = latency_s
        self.fault_rate = fault_rate  # this fraction of requests gets a 200 with `fault_body` (empty: b"")
        self.fault_body = fault_body
        self.fault_content_type = fault_content_type
        self._fault_rng = random.Random(fault_seed)
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self.gate_after: int | None = None  # hold every request after this many have arrived
        self.gate_open = threading.Event()
        self.gate_open.set()
        self.held: list[Logged] = []
        self.abandoned: set[int] = set()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate_open.set()
        self._server.shutdown()
        self._server.server_close()

    def hold_after(self, n: int) -> None:
        """Let n requests through, then hold all later ones until `release()`."""
        self.gate_after = n
        self.gate_open.clear()

    def release(self, abandon_held: bool = False) -> None:
        """Open the gate. With `abandon_held`, requests held so far get no reply (their client is gone)."""
        if abandon_held:
            with self.lock:
                self.abandoned = {id(e) for e in self.held}
        self.gate_after = None
        self.gate_open.set()

    def delivered_keys(self) -> list[str]:
        with self.lock:
            return [e.call_key for e in self.log if e.delivered and e.status == 200 and not e.fault]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def _send_fault(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", server.fault_content_type)
                self.send_header("Content-Length", str(len(server.fault_body)))
                self.end_headers()
                self.wfile.write(server.fault_body)
                self.wfile.flush()

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not request.get("messages"):  # as OpenAI answers it (curator probes rate limits this way)
                    self._send(400, {"error": {"message": "Empty input messages", "type": "invalid_request_error"}})
                    return
                entry = Logged(self.headers.get(CALL_HEADER), request.get("messages", []), 0,
                               authorization=self.headers.get("Authorization"))
                with server.lock:
                    server.log.append(entry)
                    arrived = len(server.log)
                if server.gate_after is not None and arrived > server.gate_after:
                    with server.lock:
                        server.held.append(entry)
                    server.gate_open.wait()
                    if id(entry) in server.abandoned:
                        self.close_connection = True
                        return
                if server.latency_s:
                    time.sleep(server.latency_s)
                reply = server.responder(request)
                entry.status = reply.status
                with server.lock:
                    entry.fault = server.fault_rate > 0 and server._fault_rng.random() < server.fault_rate
                try:
                    if entry.fault:
                        self._send_fault()
                    elif reply.status != 200:
                        self._send(reply.status, {"error": {"message": reply.content or f"scripted {reply.status}"}},
                                   reply.headers)
                    else:
                        self._send(200, completion_body(request, reply), reply.headers)
                    entry.delivered = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def completion_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning_content is not None:
        message["reasoning_content"] = reply.reasoning_content
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
        "model": request.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                  "total_tokens": reply.prompt_tokens + reply.completion_tokens},
    }


def is_critic(request: dict[str, Any]) -> bool:
    return "grader" in request["messages"][0]["content"]


def user_text(request: dict[str, Any]) -> str:
    return request["messages"][-1]["content"]


def sums_teacher(request: dict[str, Any]) -> Reply:
    """Solves 'What is A plus B?' in the content (as instruct models do); as critic, accepts."""
    if is_critic(request):
        return Reply(content="VERDICT: ACCEPT\nREASON: the sum is right.", completion_tokens=8)
    a, b = (int(x) for x in user_text(request).split("What is ")[1].split("?")[0].split(" plus "))
    return Reply(content=f"{a} + {b} = {a + b}.\nAnswer: \\boxed{{{a + b}}}")


def guessing_teacher(request: dict[str, Any]) -> Reply:
    """Answers every question with 1; as critic, accepts only where the reference answer is 1. Any problem set
    runs to the end: the few whose answer is 1 are accepted, the others retried and abstained."""
    if is_critic(request):
        accept = "Reference answer: 1\n" in user_text(request)
        verdict = "ACCEPT" if accept else "REJECT"
        return Reply(content=f"VERDICT: {verdict}\nREASON: compared with the reference.", completion_tokens=8)
    return Reply(content="Guessing the smallest positive integer.\nAnswer: \\boxed{1}", completion_tokens=12)


RESPONDERS: dict[str, Responder] = {"sums": sums_teacher, "guess": guessing_teacher}


def main() -> None:
    """Serve a scripted teacher in this process until killed: prints the base URL on its first line."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--teacher", choices=sorted(RESPONDERS), default="sums")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="This fraction of replies: a 200, empty body.")
    args = parser.parse_args()
    with OpenAIServer(RESPONDERS[args.teacher], latency_s=args.latency, port=args.port,
                      fault_rate=args.fault_rate) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()


ADD = re.compile(r"What is (\d+) plus (\d+)\?")


def arithmetic_teacher(request: dict[str, Any]) -> Reply:
    """Solves 'What is A plus B?' with a DeepSeek-style trace; as critic, accepts what the rule would."""
    a, b = map(int, ADD.search(user_text(request)).groups())
    if is_critic(request):
        return Reply(content="VERDICT: ACCEPT\nREASON: correct sum.", completion_tokens=6)
    return Reply(content=f"Answer: \\boxed{{{a + b}}}", reasoning_content=f"{a} + {b} = {a + b}.")


if __name__ == "__main__":
    main()

