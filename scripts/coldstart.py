#!/usr/bin/env python3
"""A minimal Lambda Runtime API, to time cold starts: from the moment a function's process
is started to the moment it posts its answer to the first event.

    coldstart.py --runs 10 CASE...      CASE = label|binary|event[|ENV=VALUE]...

`event` is `healthz` (an API Gateway HTTP API v2 `GET /healthz`), `probe` (an EventBridge
event the lifecycle function ignores without calling AWS) or `hello` (anything). Each case
runs `--runs` times, each in a fresh process; the median and the spread are printed as a
Markdown table. Only the standard library: scripts/coldstart.sh runs it with python3.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"

HEALTHZ = {
    "version": "2.0",
    "routeKey": "GET /healthz",
    "rawPath": "/healthz",
    "rawQueryString": "",
    "headers": {"accept": "application/json", "host": "api.example.com"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "domainPrefix": "api",
        "http": {
            "method": "GET",
            "path": "/healthz",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "coldstart",
        },
        "requestId": "coldstart-1",
        "routeKey": "GET /healthz",
        "stage": "$default",
        "time": "28/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795867200000,
    },
    "isBase64Encoded": False,
}

PROBE = {
    "version": "0",
    "id": "coldstart-probe",
    "detail-type": "Cold Start Probe",
    "source": "tenancy.coldstart",
    "account": "123456789012",
    "time": "2026-11-28T12:00:00Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {},
}

EVENTS = {"healthz": HEALTHZ, "probe": PROBE, "hello": {"hello": "world"}}


class Invocation:
    """The one event a run serves, and when (and how) the function answered it."""

    def __init__(self, event):
        self.body = json.dumps(event).encode()
        self.served = False
        self.answered = threading.Event()
        self.at = None
        self.outcome = None
        self.answer = b""



class RuntimeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, body=b"{}", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        invocation = self.server.invocation
        if self.path != f"{PREFIX}/invocation/next" or invocation is None:
            return self.reply(404)
        if invocation.served:
            # The function asks for its second event: it gets none; the run is over.
            invocation.answered.wait(30)
            time.sleep(30)
            return
        invocation.served = True
        deadline = str(int(time.time() * 1000) + 30_000)
        self.reply(
            200,
            invocation.body,
            [
                ("Lambda-Runtime-Aws-Request-Id", "coldstart-1"),
                ("Lambda-Runtime-Deadline-Ms", deadline),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:coldstart"),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
            ],
        )

    def do_POST(self):
        at = time.perf_counter_ns()
        body = self.read_body()
        invocation = self.server.invocation
        for outcome in ("response", "error"):
            if self.path == f"{PREFIX}/invocation/coldstart-1/{outcome}" and invocation is not None:
                invocation.at, invocation.outcome, invocation.answer = at, outcome, body
                self.reply(202)
                invocation.answered.set()
                return
        if self.path == f"{PREFIX}/init/error" and invocation is not None:
            invocation.at, invocation.outcome, invocation.answer = at, "init error", body
            self.reply(202)
            invocation.answered.set()
            return
        self.reply(404)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A function killed at the end of its run resets its waiting connection: expected.
        pass


def run_once(binary, event, env):
    invocation = Invocation(EVENTS[event])
    # A server per run: a killed process's last request for its next event, still in
    # flight, must not take the next run's event.
    server = Server(("127.0.0.1", 0), RuntimeApi)
    server.invocation = invocation
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/coldstart",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        **env,
    }
    started = time.perf_counter_ns()
    process = subprocess.Popen([binary], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    answered = invocation.answered.wait(60)
    process.kill()
    stderr, _ = process.communicate()
    server.shutdown()
    server.server_close()
    if not answered:
        sys.exit(f"{binary}: no answer within 60 s\n{stderr.decode(errors='replace')[-2000:]}")
    if invocation.outcome != "response":
        sys.exit(f"{binary}: {invocation.outcome}: {invocation.answer[:500]!r}\n{stderr.decode(errors='replace')[-2000:]}")
    return (invocation.at - started) / 1e6, invocation.answer, stderr.decode(errors="replace")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--show-log", action="store_true", help="print the last run's stderr of each case")
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args()
    rows = []
    for case in args.cases:
        label, binary, event, *rest = case.split("|")
        env = dict(pair.split("=", 1) for pair in rest if pair)
        # One run first, not counted: the binary's pages into the page cache, as the
        # deployment package is on a Lambda host before any init.
        run_once(binary, event, env)
        times, answer, log = [], b"", ""
        for _ in range(args.runs):
            elapsed, answer, log = run_once(binary, event, env)
            times.append(elapsed)
        rows.append((label, statistics.median(times), min(times), max(times)))
        if args.show_log:
            print(f"--- {label}: answer {answer[:200]!r}\n{log}", file=sys.stderr)
    floor = next((median for label, median, _, _ in rows if label.startswith("hello")), None)
    print(f"| function | median of {args.runs} (ms) | min | max | x hello-world |")
    print("|---|---:|---:|---:|---:|")
    for label, median, low, high in rows:
        ratio = f"{median / floor:.2f}" if floor else "-"
        print(f"| {label} | {median:.1f} | {low:.1f} | {high:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
