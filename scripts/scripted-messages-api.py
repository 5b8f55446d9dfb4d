#!/usr/bin/env python3
"""A local, scripted stand-in for the Anthropic Messages API.

Claude Code talks to it exactly as to the real API (server-sent events, tool_use blocks for its
own tools), so a real Claude Code run can be driven without a network or an account: by the demo
when no credential is configured, by the tests and by the benchmarks.

    scripted-messages-api.py [--port N] [--port-file FILE] [--log FILE] [--script FILE]

The script is JSON: {"scenarios": [{"match": "text in the prompt", "steps": [STEP, ...]}, ...]}.
The first scenario whose "match" occurs in the conversation's first user message is played (a
scenario without "match" plays for any prompt). A STEP is one model turn:
    {"tool": "Bash", "input": {"command": "...", "description": "..."}}   a tool call
    {"text": "..."}                                                         the final answer
and may carry "delay_seconds" (the model "thinks" that long before answering). Which step answers
a request is the number of tool results already in the conversation, so the server keeps no state
and a follow-up run (continue_task) starts its own scenario afresh. Requests that offer no tools
(Claude Code's small side requests) get a one-line text answer.

--log appends one JSON line per request: method, path, the SHA-256 of the credential headers it
carried (never the credential), the scenario and step played. The default script (no --script) is the demo's: fix calc.py's add().
"""
import argparse
import hashlib
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_SCRIPT = {
    "scenarios": [{
        "steps": [
            {"tool": "Bash", "input": {
                "description": "Fix add() and add a test, then commit",
                "command": "sed -i 's/a - b/a + b/' calc.py && printf 'from calc import add\\n\\nassert add(2, 3) == 5\\n' > test_calc.py"
                           " && git add -A && git commit -q -m 'Fix add() and add a test' && git log --oneline -1"}},
            {"text": "Fixed add() (it subtracted) and added test_calc.py; committed."},
        ]
    }]
}

MODEL = "claude-sonnet-4-5-20250929"
INPUT_TOKENS = 1200
OUTPUT_TOKENS = 42


def digest(value):
    """Credentials are logged as their SHA-256 only: a log file never holds a secret."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest() if value else None


def first_user_text(messages):
    for m in messages:
        if m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def tool_results(messages):
    n = 0
    for m in messages:
        content = m.get("content")
        if m.get("role") == "user" and isinstance(content, list):
            n += sum(1 for b in content if isinstance(b, dict) and b.get("type") == "tool_result")
    return n


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-messages-api"

    def log_message(self, fmt, *args):  # quiet: the --log file is the record
        pass

    def record(self, entry):
        if self.server.log_path:
            with self.server.log_lock, open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def do_HEAD(self):
        self.record({"method": "HEAD", "path": self.path})
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        self.record({"method": "GET", "path": self.path})
        self.reply_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not scripted"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?", 1)[0]
        entry = {"method": "POST", "path": self.path, "x-api-key-sha256": digest(self.headers.get("x-api-key")),
                 "authorization-sha256": digest(self.headers.get("authorization")), "bytes": len(raw)}
        if path == "/v1/messages/count_tokens":
            self.record(entry)
            self.reply_json(200, {"input_tokens": 77})
            return
        if path != "/v1/messages":
            self.record(entry)
            self.reply_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not scripted"}})
            return
        messages = body.get("messages") or []
        if not body.get("tools"):
            step, entry["scenario"] = {"text": "ok"}, "side-request"
        else:
            prompt = first_user_text(messages)
            scenario = next((s for s in self.server.script["scenarios"] if s.get("match", "") in prompt), None)
            if scenario is None:
                step, entry["scenario"] = {"text": "No scripted scenario matches this prompt."}, "none"
            else:
                index = tool_results(messages)
                steps = scenario["steps"]
                step = steps[min(index, len(steps) - 1)]
                entry["scenario"], entry["step"] = scenario.get("match", "*"), index
        self.record(entry)
        if step.get("delay_seconds"):
            time.sleep(float(step["delay_seconds"]))
        if body.get("stream"):
            self.stream(step)
        else:
            self.reply_json(200, self.message(step, final=True))

    def message(self, step, final):
        msg = {"id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "model": MODEL,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1 if not final else OUTPUT_TOKENS,
                         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        if final:
            msg["content"] = [self.block(step, complete=True)]
            msg["stop_reason"] = "tool_use" if "tool" in step else "end_turn"
        return msg

    @staticmethod
    def block(step, complete):
        if "tool" in step:
            return {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": step["tool"],
                    "input": step.get("input", {}) if complete else {}}
        return {"type": "text", "text": step.get("text", "") if complete else ""}

    def stream(self, step):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.event("message_start", {"type": "message_start", "message": self.message(step, final=False)})
        self.event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": self.block(step, complete=False)})
        if "tool" in step:
            delta = {"type": "input_json_delta", "partial_json": json.dumps(step.get("input", {}))}
        else:
            delta = {"type": "text_delta", "text": step.get("text", "")}
        self.event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        self.event("content_block_stop", {"type": "content_block_stop", "index": 0})
        self.event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": "tool_use" if "tool" in step else "end_turn", "stop_sequence": None},
                                     "usage": {"output_tokens": OUTPUT_TOKENS}})
        self.event("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def event(self, name, data):
        payload = ("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def reply_json(self, status, obj):
        payload = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--log", help="append one JSON line per request")
    ap.add_argument("--script", help="scenarios (JSON); default: the demo's")
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Api)
    server.daemon_threads = True
    server.script = json.load(open(args.script, encoding="utf-8")) if args.script else DEFAULT_SCRIPT
    server.log_path = args.log
    server.log_lock = threading.Lock()
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".part", "w") as f:
            f.write(str(port))
        import os
        os.replace(args.port_file + ".part", args.port_file)
    print("scripted Messages API listening on http://%s:%d" % (args.host, port), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
