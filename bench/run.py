#!/usr/bin/env python3
"""Runs every benchmark of bench/run and writes docs/benchmarks.md.

Each row pairs Corral with a baseline measured in the same run; every figure is the median of
three runs. Usage: run.py BUILD_DIR OUTPUT.md
"""
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD, OUTPUT = sys.argv[1], sys.argv[2]
CORRAL = os.path.join(BUILD, "corral")
LOAD = os.path.join(BUILD, "corral_load")
HELPER = os.path.abspath(os.path.join(BUILD, "child_helper"))
MICRO = os.path.join(BUILD, "output_buffer_bench")
REPS = 3
COMMANDS = []  # every command run, for the report


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(args, **kw):
    COMMANDS.append(" ".join(args))
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def load(*args):
    return json.loads(run([LOAD, *map(str, args)]))


def load_group(*args):
    """load() for the modes that start processes of their own outside Corral (in its group, or
    each in a session of its own): whatever happens here (Ctrl-C included), none of them
    outlives the run."""
    args = [LOAD, *map(str, args)]
    COMMANDS.append(" ".join(args))
    # A session of its own, so a Ctrl-C at the terminal reaches us, not it: it is ended below.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate()
    except BaseException:
        end_load(proc)
        raise
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, args, out, err)
    return json.loads(out)


def end_load(proc):
    """Kills corral_load and every process it started. It is stopped first, so its children
    stay its own, unreaped, while they are killed: no pid or group named here can have been
    reused by a stranger."""
    os.kill(proc.pid, signal.SIGSTOP)
    children = []
    for task in os.listdir(f"/proc/{proc.pid}/task"):
        with open(f"/proc/{proc.pid}/task/{task}/children") as f:
            children += map(int, f.read().split())
    for child in children:
        try:
            if os.getpgid(child) == child:  # a group of its own (kill-raw's `sh -c sleep`)
                os.killpg(child, signal.SIGKILL)
            else:
                os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def median(f):
    return statistics.median(f() for _ in range(REPS))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *extra):
        args = [CORRAL, "serve", "--listen", "127.0.0.1:0", "--no-auth", *extra]
        COMMANDS.append(" ".join(args))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        self.addr = line.removeprefix("listening on ")
        self.url = "http://" + self.addr
        self.pid = self.proc.pid

    def get(self, path):
        import urllib.request
        with urllib.request.urlopen(self.url + path) as r:
            return r.read()

    def post(self, path, body):
        import urllib.request
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def wrk(url):
    out = run(["wrk", "-t2", "-c64", "-d5s", "--latency", url])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50": ms("50"), "p99": ms("99")}


def median_of(results, key):
    return statistics.median(r[key] for r in results)


rows = []  # (measure, corral, baseline, ratio, target, met)


def row(measure, corral, baseline, ratio, target, met):
    """`met` is a bool, or the text of the Met cell where a row has more than one target."""
    if isinstance(met, bool):
        met = "yes" if met else "**no**"
    rows.append((measure, corral, baseline, ratio, target, met))
    log(f"{measure}: {corral} vs {baseline} -> {ratio} ({target})")


def bench_start():
    with Server() as server:
        for c in (1, 8, 64):
            count = 600 if c == 1 else 2000
            base = median(lambda: load("spawn", "--concurrency", c, "--count", count)["per_second"])
            ours = median(lambda: load("start", "--server", server.url, "--concurrency", c,
                                       "--count", count)["per_second"])
            ratio = ours / base
            target, met = "—", True
            if c == 8:
                # The goal, and what issue 8 asks of the cgroup spawn: no worse than before it.
                target = "≥ 0.7x (goal); no worse than the previous ratio (0.55–0.6x)"
                met = ("yes" if ratio >= 0.7 else
                       "no worse: yes; 0.7x: **no**" if ratio >= 0.55 else "**no**")
            row(f"Start + wait of `true`, {c} in flight (commands/s)", f"{ours:,.0f}",
                f"{base:,.0f} (posix_spawn + waitpid)", f"{ratio:.2f}x", target, met)


def bench_latency():
    with Server() as server:
        results = [load("latency", "--server", server.url, "--helper", HELPER, "--waiters", 1000,
                        "--samples", 200) for _ in range(REPS)]
    s50 = statistics.median(r["start_to_running_ms"]["p50"] for r in results)
    s99 = statistics.median(r["start_to_running_ms"]["p99"] for r in results)
    e50 = statistics.median(r["exit_to_answer_ms"]["p50"] for r in results)
    e99 = statistics.median(r["exit_to_answer_ms"]["p99"] for r in results)
    base = [load("spawn-latency", "--helper", HELPER, "--samples", 200) for _ in range(REPS)]
    b50 = statistics.median(r["start_to_running_ms"]["p50"] for r in base)
    b99 = statistics.median(r["start_to_running_ms"]["p99"] for r in base)
    row("Start request → command running, 1,000 idle waiters (ms, p50 / p99)",
        f"{s50:.2f} / {s99:.2f}", f"{b50:.2f} / {b99:.2f} (posix_spawn of the same command)",
        f"+{s50 - b50:.2f} ms at p50", "—", True)
    row("Command exit → `?wait=true` answer, 1,000 idle waiters (ms, p50 / p99)",
        f"{e50:.2f} / {e99:.2f}", "—", "—", "p99 < 2 ms", e99 < 2.0)


def bench_kill():
    ours, base, requests = [], [], []
    for _ in range(REPS):
        with Server() as server:  # default flags: --max-processes 1024 holds 500
            r = load("kill", "--server", server.url, "--processes", 500, "--concurrency", 8)
        ours.append(r["seconds"])
        requests.append(r["kill_requests_seconds"])
        base.append(load_group("kill-raw", "--processes", 500)["seconds"])
    o, b = statistics.median(ours), statistics.median(base)
    row("Kill 500 `sleep 300` through the API, 8 in flight, until all are done (s)",
        f"{o:.3f} ({statistics.median(requests):.3f} of it sending the kills)",
        f"{b:.3f} (kill(-pgid, SIGKILL) of the same 500 `sh -c` groups + waitpid)",
        f"{o / b:.1f}x", "≤ 2x", o <= 2 * b)


def bench_signal():
    quiet, busy = [], []
    with Server() as server:
        for _ in range(REPS):
            common = ("--server", server.url, "--helper", HELPER, "--samples", 200)
            quiet.append(load_group("signal", *common, "--unrelated", 0))
            busy.append(load_group("signal", *common, "--unrelated", 3000, "--env-bytes", 32768))
    q50 = statistics.median(r["signal_ms"]["p50"] for r in quiet)
    q99 = statistics.median(r["signal_ms"]["p99"] for r in quiet)
    b50 = statistics.median(r["signal_ms"]["p50"] for r in busy)
    b99 = statistics.median(r["signal_ms"]["p99"] for r in busy)
    ratio = b50 / q50
    row("`terminate` request with 3,000 unrelated `sleep`s (32 KiB environment each) on the "
        "machine (ms, p50 / p99)", f"{b50:.2f} / {b99:.2f}",
        f"{q50:.2f} / {q99:.2f} (the same, without them)", f"{ratio:.2f}x at p50",
        "≈ 1x (≤ 1.25x at p50)", ratio <= 1.25)


def bench_retention():
    results = []
    for _ in range(REPS):
        with Server() as server:  # default flags
            results.append(load("retention", "--server", server.url, "--pid", server.pid,
                                "--helper", HELPER, "--count", 3000, "--concurrency", 8,
                                "--bytes", 40000))
    before = median_of(results, "rss_before_kb") / 1024
    after = median_of(results, "rss_after_kb") / 1024
    peak = median_of(results, "rss_peak_kb") / 1024
    remembered = median_of(results, "remembered")
    row("Server RSS after 3,000 commands that print 40 KB, each read once (MiB)",
        f"{after:.1f} (peak {peak:.1f}); {remembered:,.0f} remembered",
        f"{before:.1f} (the same server idle, before the run)", f"+{after - before:.1f} MiB",
        "< 96 MiB; ≤ 1,024 remembered", after < 96 and remembered <= 1024)


def bench_ingest():
    size = 2 * 1024 ** 3
    with Server() as server:
        results = [load("ingest", "--server", server.url, "--pid", server.pid, "--bytes", size)
                   for _ in range(REPS)]
    ours = median_of(results, "bytes_per_second")
    growth = median_of(results, "rss_growth_kb")
    base_s = median(lambda: load("shell", "--command",
                                 f"head -c {size} /dev/zero | cat >/dev/null")["seconds"])
    base = size / base_s
    ratio = ours / base
    row("Output ingest, `head -c 2G /dev/zero` (GB/s)", f"{ours / 1e9:.2f}",
        f"{base / 1e9:.2f} (`head -c 2G /dev/zero | cat >/dev/null`)", f"{ratio:.2f}x", "≥ 0.8x",
        ratio >= 0.8)
    row("Server RSS growth during the 2 GiB ingest (KiB)", f"{growth:.0f}", "—", "—", "< 1024",
        growth < 1024)


def nginx(files):
    root = tempfile.mkdtemp(prefix="corral-nginx-")
    www = os.path.join(root, "www")
    os.makedirs(www)
    for name, body in files.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(body)
    port = free_port()
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port}; root {www};
  location / {{ default_type application/json; }} }} }}
""")
    args = ["nginx", "-c", conf, "-p", root]
    COMMANDS.append(" ".join(args))
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}", root


def bench_api():
    with Server() as server:
        for _ in range(10):
            server.post("/api/v0/processes/start", {"command": "true"})
        loud = server.post("/api/v0/processes/start", {"command": f"{HELPER} print 1000000"})["id"]
        time.sleep(1)
        server.get(f"/api/v0/processes/{loud}/output?wait=true")
        list_body = server.get("/api/v0/processes/list")
        output_body = server.get(f"/api/v0/processes/{loud}/output")
        proc, base_url, root = nginx({"list.json": list_body, "output.json": output_body})
        try:
            for name, path, body in (("GET /list (10 entries)", "/api/v0/processes/list", list_body),
                                     ("GET /{id}/output (32 KiB head+tail)",
                                      f"/api/v0/processes/{loud}/output", output_body)):
                ours = [wrk(server.url + path) for _ in range(REPS)]
                base = [wrk(base_url + "/" + ("list.json" if "list" in path else "output.json"))
                        for _ in range(REPS)]
                ratio = median_of(ours, "rps") / median_of(base, "rps")
                row(f"{name}, {len(body):,} bytes, wrk 64 connections (req/s; p50/p99 ms)",
                    f"{median_of(ours, 'rps'):,.0f}; {median_of(ours, 'p50'):.2f}/{median_of(ours, 'p99'):.2f}",
                    f"{median_of(base, 'rps'):,.0f}; {median_of(base, 'p50'):.2f}/{median_of(base, 'p99'):.2f} (nginx, 1 worker, same bytes)",
                    f"{ratio:.2f}x", "≥ 0.5x", ratio >= 0.5)
        finally:
            proc.terminate()
            proc.wait()
            shutil.rmtree(root, ignore_errors=True)


def bench_loud():
    with Server() as server:
        quiet = [load("loud", "--server", server.url, "--processes", 0, "--samples", 500)
                 for _ in range(REPS)]
        loud = [load("loud", "--server", server.url, "--processes", 16, "--samples", 500)
                for _ in range(REPS)]
    q50 = statistics.median(r["list_ms"]["p50"] for r in quiet)
    q99 = statistics.median(r["list_ms"]["p99"] for r in quiet)
    l50 = statistics.median(r["list_ms"]["p50"] for r in loud)
    l99 = statistics.median(r["list_ms"]["p99"] for r in loud)
    row("GET /list while 16 commands write as fast as they can (ms, p50 / p99)",
        f"{l50:.2f} / {l99:.2f}", f"{q50:.2f} / {q99:.2f} (no command running)",
        f"{l99 / q99:.1f}x at p99", "p99 < 50 ms", l99 < 50)


def bench_scale():
    results = []
    for _ in range(REPS):
        with Server("--max-connections", "12000", "--max-processes", "2000") as server:
            results.append(load("scale", "--server", server.url, "--pid", server.pid,
                                "--processes", 1000, "--waiters", 10000))
    per_process = median_of(results, "per_process_kb")
    per_waiter = median_of(results, "per_waiter_kb")
    ticks = median_of(results, "idle_cpu_ticks_5s")
    row("Server memory per `sleep` process (KiB; no output, so no buffer yet)", f"{per_process:.1f}",
        "—", "—", "< 64", per_process < 64)
    row("Server memory per `?wait=true` waiter, 10,000 waiters (KiB)", f"{per_waiter:.1f}", "—",
        "—", "< 16", per_waiter < 16)
    hz = results[0]["ticks_per_second"]
    row("Server CPU while idle with 1,000 processes and 10,000 waiters (% of a core)",
        f"{100 * ticks / hz / 5:.2f}", "—", "—", "≈ 0 (no polling)", ticks <= 1)


def bench_micro():
    out = json.loads(run([MICRO, "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
                          "--benchmark_format=json"]))
    med = {b["run_name"]: b for b in out["benchmarks"] if b.get("aggregate_name") == "median"}
    for size in (1, 4096, 65536):
        ours = med[f"BM_Append/{size}"]["bytes_per_second"]
        base = med[f"BM_RingMemcpy/{size}"]["bytes_per_second"]
        row(f"OutputBuffer::Append, {size}-byte writes (GB/s)", f"{ours / 1e9:.2f}",
            f"{base / 1e9:.2f} (memcpy into a 16 KiB ring)", f"{ours / base:.2f}x", "—", True)
    ours = med["BM_RenderFull"]["real_time"]
    base = med["BM_CopyFull"]["real_time"]
    unit = med["BM_RenderFull"]["time_unit"]
    row(f"Render a full buffer (32 KiB + marker) ({unit})", f"{ours:.1f}",
        f"{base:.1f} (copying 32 KiB)", f"{base / ours:.2f}x", "—", True)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    return f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB, Linux {platform.release()}"


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.time()
    for step in (bench_micro, bench_start, bench_latency, bench_kill, bench_signal, bench_retention,
                 bench_ingest, bench_api, bench_loud, bench_scale):
        log(f"== {step.__name__}")
        step()
    elapsed = time.time() - started

    analysis = open(os.path.join(os.path.dirname(__file__), "analysis.md")).read()
    with open(OUTPUT, "w") as f:
        f.write(f"""# Benchmarks

Produced by `bench/run` on {time.strftime('%Y-%m-%d')} in {elapsed / 60:.1f} minutes, on {machine()}.
Every figure is the median of {REPS} runs; each row's baseline was measured in the same run, on
the same machine, which is shared: ratios are the figures to read. Release build, loopback only.

| Measure | Corral | Baseline | Ratio | Target | Met |
|---|---|---|---|---|---|
""")
        for r in rows:
            f.write("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |\n")
        f.write("\n" + analysis + "\n## Commands\n\nRun with `bench/run`. It ran, in order:\n\n```\n")
        seen = []
        for c in COMMANDS:
            c = c.replace(os.getcwd() + "/", "")
            if c not in seen:
                seen.append(c)
        f.write("\n".join(seen) + "\n```\n")
    log(f"wrote {OUTPUT}")
    print(open(OUTPUT).read())


main()
