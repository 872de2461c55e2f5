#!/usr/bin/env python3
"""GET /metrics parsed by the Prometheus client's own parser, its counters followed across
starts, exits, kills and requests; --log-format json checked line by line for shape and secrets.
Runs the real binary named by $CORRAL_BINARY."""
import http.client
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import unittest

from prometheus_client.parser import text_string_to_metric_families

BINARY = os.environ["CORRAL_BINARY"]
TOKEN = "metrics-test-token-7c1f0a9e55"
ENV_SECRET = "env-secret-value-4b2d9e"
COMMAND_SECRET = "command-secret-text-93aa1"
CHAT = "6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f"


class Corral:
    def __init__(self, *args):
        self.dir = tempfile.TemporaryDirectory()
        token_file = os.path.join(self.dir.name, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.stderr_path = os.path.join(self.dir.name, "stderr")
        self.log = None  # what the server wrote to stderr, once stopped
        self.stderr_file = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--ephemeral", "--listen", "127.0.0.1:0", "--token-file", token_file, *args],
            stdout=subprocess.PIPE, stderr=self.stderr_file, text=True,
            env={**os.environ, "XDG_RUNTIME_DIR": self.dir.name, "HOME": self.dir.name})
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line
        self.host, port = line.removeprefix("listening on ").rsplit(":", 1)
        self.port = int(port)

    def request(self, method, path, body=None, headers=None, auth=True):
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        h = dict(headers or {})
        if auth:
            h["Authorization"] = "Bearer " + TOKEN
        c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        return r.status, data

    def start(self, command, **extra):
        status, data = self.request("POST", "/api/v0/processes/start", {"command": command, **extra})
        assert status == 200, data
        return json.loads(data)["id"]

    def wait(self, id):
        for _ in range(60):
            status, data = self.request("GET", f"/api/v0/processes/{id}/output?wait=true&timeout_ms=5000")
            out = json.loads(data)
            if not out["running"]:
                return out
        raise AssertionError(f"{id} never finished")

    def metrics(self):
        status, text = self.request("GET", "/metrics")
        assert status == 200, text
        return {f.name: f for f in text_string_to_metric_families(text)}, text

    def stderr(self):
        if self.log is not None:
            return self.log
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self):
        if self.log is not None:
            return
        self.proc.terminate()
        self.proc.wait(30)
        self.proc.stdout.close()
        self.stderr_file.close()
        self.log = self.stderr()
        self.dir.cleanup()


def value(families, name, **labels):
    """The value of the one sample of family `name` (without its suffix) with these labels."""
    base = re.sub(r"_(total|bucket|sum|count)$", "", name)
    for f in families.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0 if name.endswith("_total") or name.endswith("_count") else None


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.server = Corral()
        self.addCleanup(self.server.stop)

    def test_every_family_is_exported_from_zero_with_its_type(self):
        families, _ = self.server.metrics()
        expected = {
            "corral_processes_started": "counter", "corral_processes_done": "counter",
            "corral_processes_running": "gauge", "corral_waiters": "gauge",
            "corral_connections": "gauge", "corral_http_requests": "counter",
            "corral_http_request_duration_seconds": "histogram",
            "corral_spawn_duration_seconds": "histogram", "corral_output_bytes": "counter",
            "corral_spool_bytes": "gauge",
        }
        for name, type_ in expected.items():
            self.assertIn(name, families)
            self.assertEqual(families[name].type, type_, name)
        self.assertEqual(value(families, "corral_processes_started_total"), 0)
        for ended_by in ["exit", "signal", "client", "deadline", "shutdown", "lost"]:
            self.assertEqual(value(families, "corral_processes_done_total", ended_by=ended_by), 0)
        self.assertEqual(value(families, "corral_spawn_duration_seconds_count"), 0)
        self.assertGreaterEqual(value(families, "corral_connections"), 1)

    def test_counters_follow_starts_exits_kills_and_requests(self):
        s = self.server
        exited = s.start("printf abcdef; exit 3")
        self.assertEqual(s.wait(exited)["exit_code"], 3)
        suicide = s.start("kill -9 $$")
        self.assertEqual(s.wait(suicide)["exit_signal"], "SIGKILL")
        sleeper = s.start("sleep 60")
        families, _ = s.metrics()
        self.assertEqual(value(families, "corral_processes_started_total"), 3)
        self.assertEqual(value(families, "corral_processes_running"), 1)
        self.assertEqual(value(families, "corral_processes_done_total", ended_by="exit"), 1)
        self.assertEqual(value(families, "corral_processes_done_total", ended_by="signal"), 1)
        self.assertEqual(value(families, "corral_output_bytes_total"), 6)

        # A held ?wait=true is a waiter while it waits.
        held = threading.Thread(target=lambda: s.request(
            "GET", f"/api/v0/processes/{sleeper}/output?wait=true&timeout_ms=60000"))
        held.start()
        deadline = time.monotonic() + 15
        while value(s.metrics()[0], "corral_waiters") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(value(s.metrics()[0], "corral_waiters"), 1)

        status, _ = s.request("POST", f"/api/v0/processes/{sleeper}/signal", {"signal": "kill"})
        self.assertEqual(status, 200)
        held.join(30)
        s.wait(sleeper)
        self.assertEqual(s.request("GET", "/api/v0/processes/list", auth=False)[0], 401)
        self.assertEqual(s.request("GET", f"/api/v0/processes/{sleeper}/nothing")[0], 404)
        self.assertEqual(s.request("POST", "/api/v0/processes/start", {"command": ""})[0], 400)

        families, text = s.metrics()
        self.assertEqual(value(families, "corral_processes_started_total"), 3)
        self.assertEqual(value(families, "corral_processes_running"), 0)
        self.assertEqual(value(families, "corral_waiters"), 0)
        # The killed one: "client" once ended_by knows a request sent the signal, "signal" before.
        killed = (value(families, "corral_processes_done_total", ended_by="client")
                  + value(families, "corral_processes_done_total", ended_by="signal"))
        self.assertEqual(killed, 2)
        start = "/api/v0/processes/start"
        self.assertEqual(value(families, "corral_http_requests_total", route=start, status="200"), 3)
        self.assertEqual(value(families, "corral_http_requests_total", route=start, status="400"), 1)
        self.assertEqual(value(families, "corral_http_requests_total",
                               route="/api/v0/processes/list", status="401"), 1)
        self.assertEqual(value(families, "corral_http_requests_total",
                               route="unmatched", status="404"), 1)
        self.assertEqual(value(families, "corral_http_requests_total",
                               route="/api/v0/processes/{id}/signal", status="200"), 1)
        self.assertEqual(value(families, "corral_http_request_duration_seconds_count", route=start), 4)
        self.assertEqual(value(families, "corral_http_request_duration_seconds_bucket",
                               route=start, le="+Inf"), 4)
        self.assertEqual(value(families, "corral_spawn_duration_seconds_count"), 3)
        self.assertGreater(value(families, "corral_spawn_duration_seconds_sum"), 0)
        # Route labels are templates: no process id ever becomes a label value.
        self.assertNotIn(sleeper, text)

    def test_metrics_need_the_token_and_ignore_the_chat(self):
        s = self.server
        self.assertEqual(s.request("GET", "/metrics", auth=False)[0], 401)
        s.wait(s.start("true"))
        _, text = s.request("GET", "/metrics", headers={"Coder-Chat-Id": CHAT})
        families = {f.name: f for f in text_string_to_metric_families(text)}
        self.assertEqual(value(families, "corral_processes_started_total"), 1)


class JsonLogTest(unittest.TestCase):
    def run_server(self, *args):
        s = Corral("--log-format", "json", *args)
        env = {"API_KEY": ENV_SECRET}
        id = s.start(f"echo {COMMAND_SECRET}; exit 4", env=env)
        s.wait(id)
        s.request("GET", "/api/v0/processes/list", headers={"Coder-Chat-Id": CHAT})
        s.request("GET", "/api/v0/processes/list", auth=False)
        s.request("GET", "/api/v0/processes/list", headers={"Authorization": "Bearer wrong-" + TOKEN},
                  auth=False)
        s.stop()
        return id, s.stderr()

    def test_every_line_is_json_with_the_fields_and_no_secret(self):
        id, log = self.run_server()
        lines = log.splitlines()
        self.assertGreater(len(lines), 5)
        records = []
        for line in lines:
            r = json.loads(line)  # every line, start-up and shutdown ones included
            self.assertRegex(r["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
            self.assertIn(r["level"], ["debug", "info", "warning", "error"])
            self.assertIsInstance(r["msg"], str)
            records.append(r)
        for secret in [TOKEN, ENV_SECRET, COMMAND_SECRET]:
            self.assertNotIn(secret, log)

        requests = [r for r in records if r["msg"] == "request"]
        statuses = sorted(r["status"] for r in requests if r["route"] == "/api/v0/processes/list")
        self.assertEqual(statuses, [200, 401, 401])  # refused requests get their line too
        for r in requests:
            self.assertIsInstance(r["duration_ms"], (int, float))
            self.assertIn("chat", r)
            self.assertFalse(r["route"].count(id))
        self.assertIn(CHAT, [r["chat"] for r in requests])
        started = [r for r in records if r.get("event") == "process_start"]
        done = [r for r in records if r.get("event") == "process_done"]
        self.assertEqual([r["id"] for r in started], [id])
        self.assertEqual(len(done), 1)
        self.assertEqual(done[0]["id"], id)
        self.assertEqual(done[0]["exit_code"], 4)
        self.assertEqual(done[0]["ended_by"], "exit")
        self.assertIsNone(done[0]["exit_signal"])
        self.assertNotIn("command", started[0])

    def test_commands_are_logged_only_when_asked(self):
        id, log = self.run_server("--log-commands")
        started = [json.loads(l) for l in log.splitlines() if "process_start" in l]
        self.assertEqual(started[0]["command"], f"echo {COMMAND_SECRET}; exit 4")
        self.assertNotIn(ENV_SECRET, log)
        self.assertNotIn(TOKEN, log)

    def test_text_is_the_default_and_respects_the_level(self):
        s = Corral()
        s.wait(s.start("true"))
        s.stop()
        lines = s.stderr().splitlines()
        self.assertTrue(lines)
        self.assertTrue(all(l.startswith("corral: ") for l in lines), lines)
        self.assertTrue(any("route=/api/v0/processes/start" in l for l in lines))
        quiet = Corral("--log-level", "warning")
        quiet.wait(quiet.start("true"))
        quiet.stop()
        self.assertNotIn("request", quiet.stderr())


if __name__ == "__main__":
    unittest.main(verbosity=2)
