"""The peer benchmark: what users would write instead.

Rebuilds every data family our exporter served (read from a /metrics dump)
as prometheus_client Gauges with the same labels and values, then times
prometheus_client's exposition of them, the work a Python exporter does on
every scrape. Prints one line of key=value results.

    python python_peer.py METRICS_FILE [RUNS]
"""

import re
import statistics
import sys
import time

from prometheus_client import CollectorRegistry, Gauge, generate_latest

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
ESCAPE = re.compile(r"\\(.)")


def unescape(value):
    return ESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def read_families(path):
    """name -> (help, label names, [(label values, value)]) for data gauges."""
    families, helps = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# HELP "):
                name, _, text = line[7:].partition(" ")
                helps[name] = text
                continue
            # The data families only: not the exporter's own or process metrics.
            if not line or line.startswith(("#", "gong_exporter_", "process_")):
                continue
            m = SAMPLE.match(line)
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            pairs = [(k, unescape(v)) for k, v in LABEL.findall(labels)]
            names = tuple(k for k, _ in pairs)
            family = families.setdefault(name, (helps.get(name, name), names, []))
            family[2].append((tuple(v for _, v in pairs), value))
    return families


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    families = read_families(path)
    registry = CollectorRegistry()
    series = 0
    for name, (help_text, label_names, samples) in families.items():
        gauge = Gauge(name, help_text, label_names, registry=registry)
        for values, value in samples:
            gauge.labels(*values).set(value)
            series += 1
    timings = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        size = len(generate_latest(registry))
        timings.append(time.perf_counter() - started)
    print(
        f"peer=python_prometheus_client series={series} bytes={size} runs={runs} "
        f"median_seconds={statistics.median(timings):.3f} min_seconds={min(timings):.3f}"
    )


if __name__ == "__main__":
    main()
