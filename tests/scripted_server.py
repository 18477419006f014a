"""A scripted-answer OpenAI-compatible server for tests: a real HTTP server on 127.0.0.1 that the `openai` client talks to
unchanged. It answers `POST /v1/chat/completions` and `POST /v1/completions` with texts the test chose, lists the models the
test chose at `GET /v1/models`, and logs every request it receives. It can honour structured-output requests, as llama.cpp
(`json_object` with a schema, a `grammar`) and OpenAI/vLLM (`json_schema`) do, or ignore them and answer 200 all the same."""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    """`answer` is a string (every request), a list (one per request, in arrival order; the last one repeats), or a function of
    the request body (a dict: `model`, `messages` or `prompt`, sampling parameters) returning the text. `models` is the
    `/v1/models` list (default: one entry for `model`, with `root` and `owned_by`). `port=0` picks a free port; pass a stopped
    server's port to restart "the same" server. Both `answer` and `models` may be changed while it runs. `honours` names the
    structured forms it enforces (`json_object`, `json_schema`, `grammar`): for those, a scripted answer that does not fit is
    replaced by the simplest reply that does (`instance`); every other form is ignored, as servers that do not know it do."""

    def __init__(self, answer="ok", model: str = "scripted-model", models: list[dict] | None = None, port: int = 0,
                 honours: tuple[str, ...] = ()):
        self.answer, self.model, self.honours = answer, model, tuple(honours)
        self.models = models if models is not None else [{"id": model, "object": "model", "owned_by": "scripted", "root": model}]
        self.lock, self.calls = threading.Lock(), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args): pass

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                with server.lock: server.calls.append({"method": "GET", "path": self.path, "body": None})
                if self.path.rstrip("/") == "/v1/models": return self._send(200, {"object": "list", "data": server.models})
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server.calls.append({"method": "POST", "path": self.path, "body": body})
                    n = len(server.completions)
                if self.path not in ("/v1/chat/completions", "/v1/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                text = server.enforce(body, server.text_for(body, n - 1))
                common = {"id": f"scripted-{n}", "created": int(time.time()), "model": body.get("model"),
                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                if self.path == "/v1/completions":
                    return self._send(200, {**common, "object": "text_completion",
                                            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}]})
                self._send(200, {**common, "object": "chat.completion",
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                              "finish_reason": "stop", "logprobs": None}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def text_for(self, body: dict, index: int) -> str:
        "The scripted answer to the `index`-th completion request (0-based), whose JSON body is `body`."
        if callable(self.answer): return self.answer(body)
        if isinstance(self.answer, str): return self.answer
        return self.answer[min(index, len(self.answer) - 1)]

    def enforce(self, body: dict, text: str) -> str:
        "`text`, or, where the request asks for a shape in a form this server honours and `text` does not fit it, a reply that does."
        import jsonschema
        fmt = body.get("response_format") or {}
        schema = (fmt.get("schema") if fmt.get("type") == "json_object" else
                  (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None)
        if schema is not None and fmt["type"] in self.honours:
            try:
                jsonschema.validate(json.loads(text), schema); return text
            except (ValueError, jsonschema.ValidationError): return json.dumps(instance(schema))
        literal = re.fullmatch(r'\s*root\s*::=\s*"([^"\\]*)"\s*', body.get("grammar") or "")
        if "grammar" in self.honours and literal: return literal[1]      # only one-sentence grammars are enforced here
        return text

    @property
    def port(self) -> int: return self.server.server_address[1]

    @property
    def base_url(self) -> str: return f"http://127.0.0.1:{self.port}/v1"

    @property
    def completions(self) -> list[dict]:
        "The completion requests received so far (POSTs), oldest first."
        return [c for c in self.calls if c["method"] == "POST"]

    @property
    def asked(self) -> list[dict]:
        "The completion requests other than the structured-output probe's (`structured_support` asks it once per response cache)."
        from datascope_nb.llm import PROBE_PROMPT
        return [c for c in self.completions if c["body"].get("messages") != PROBE_PROMPT]

    def start(self) -> "ScriptedServer":
        self.thread.start(); return self

    def stop(self) -> None:
        "Stop serving and free the port (a second call does nothing)."
        if self.thread.is_alive(): self.server.shutdown()
        self.server.server_close()

    def __enter__(self): return self.start()

    def __exit__(self, *exc): self.stop()


def instance(schema: dict):
    "The simplest value valid under a (simple) JSON schema: the first enum value, the const, required fields, minimum sizes."
    if "enum" in schema: return schema["enum"][0]
    if "const" in schema: return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: instance(schema["properties"][k]) for k in schema.get("required", [])}
    if kind == "array": return [instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "integer" or kind == "number": return schema.get("minimum", 0)
    if kind == "boolean": return False
    if kind == "string": return "x" * schema.get("minLength", 0)
    return None
