#!/usr/bin/env python3
"""Peak memory of the exporter against a hostile Gong (huge and endless
answer bodies) and hostile clients (slowloris connections), to show it stays
bounded, with the release binary:

    cargo build --release && python3 bench/hostile.py [--smoke]

1. baseline: the exporter polling a healthy simulator;
2. bodies: the simulator answers /v2/users with a 500 MB body and the
   interaction endpoint with an endless one (--smoke: 50 MB);
3. slowloris: 1,050 connections that each send half a request's headers and
   stall (--smoke: 200), while /-/healthy is timed.

Prints the exporter's peak resident memory (VmHWM) in each case.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SMOKE = "--smoke" in sys.argv
# GONG_EXPORTER_BIN: another build (bench/run.sh --smoke passes the dev one).
BIN = os.environ.get("GONG_EXPORTER_BIN") or os.path.join(os.path.dirname(__file__), "..", "target", "release", "gong-exporter")
BODY = 50_000_000 if SMOKE else 500_000_000
SLOW_CLIENTS = 200 if SMOKE else 1050


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def wait_for(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if get(url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} never answered 200")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(name, faults, action):
    sim_port, port = free_port(), free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(faults, f)
    sim = subprocess.Popen([BIN, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--users", "200",
                            "--rate-limit", "50", "--faults", f.name], stderr=subprocess.DEVNULL)
    env = dict(os.environ, GONG_ACCESS_KEY="demo", GONG_ACCESS_KEY_SECRET="demo")
    exporter = subprocess.Popen([BIN, "--gong.base-url", f"http://127.0.0.1:{sim_port}", "--gong.rate-limit", "50",
                                 "--gong.timezone", "US/Pacific", "--web.listen-address", f"127.0.0.1:{port}",
                                 "--poll.schedule=fixed", "--poll.interval", "5s", "--collector.coaching=false",
                                 "--log.level", "error"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready")
        detail = action(port)
        print(f"{name:10} peak RSS {peak_rss_mib(exporter.pid):7.1f} MiB  {detail}")
    finally:
        exporter.kill()
        sim.kill()
        exporter.wait()
        sim.wait()
        os.unlink(f.name)


def a_few_cycles(port):
    time.sleep(12)
    text = get(f"http://127.0.0.1:{port}/metrics")[1].decode()
    too_large = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("gong_exporter_api_requests_total") and 'code="too_large"' in line)
    return f"(requests refused at the size cap: {too_large:.0f})"


def slowloris(port):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, SLOW_CLIENTS + 256)), hard))
    slow = []
    for _ in range(SLOW_CLIENTS):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    started = time.time()
    status = get(f"http://127.0.0.1:{port}/-/healthy", timeout=120)[0]
    healthy = time.time() - started
    # Closed by the exporter within --web.idle-timeout (10 s) each.
    deadline = time.time() + 120
    for s in slow:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    closed = time.time() - started
    for s in slow:
        s.close()
    return f"(/-/healthy {status} after {healthy:.1f} s; all {SLOW_CLIENTS} slow connections closed after {closed:.1f} s)"


run("baseline", [], a_few_cycles)
run("bodies", [
    {"path": "/v2/users", "fault": {"kind": "oversized", "bytes": BODY}},
    {"path": "/v2/stats/interaction", "fault": {"kind": "endless"}},
], a_few_cycles)
run("slowloris", [], slowloris)
