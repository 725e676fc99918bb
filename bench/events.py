"""Event delivery benchmark: events per second to 10 loopback listeners and latency from the API call that
caused an event to its receipt, against a bare `requests` POST loop to the same listeners."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tmf_common.embedded_db import free_loopback_port, start_database

ROOT = Path(__file__).resolve().parents[1]
ORDERING = "/tmf-api/productOrderingManagement/v4"
FAMILY_PLAN = json.loads((ROOT / "examples" / "orders" / "family-plan-order.json").read_text())
LISTENERS = 10


@dataclass
class Receipts:
    times: dict[tuple[int, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_listener(index: int, receipts: Receipts) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            order = body.get("event", {}).get("productOrder", {})
            with receipts.lock:
                receipts.times.setdefault((index, str(order.get("id"))), time.perf_counter())
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def run_service(orders: int, rate: float, listeners: list[ThreadingHTTPServer], receipts: Receipts) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tmf-bench-events-") as data_dir:
        database = start_database(Path(data_dir))
        port = free_loopback_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TMF_MONGODB_URI": database.uri,
            "TMF_RUN_ENGINE": "0",
            "TMF_PORT": str(port),
            "TMF_ALLOW_PRIVATE_CALLBACKS": "1",
            "TMF_DATABASE": "bench_events",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tmf_server.cli", "serve"], env=env, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/ready", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("service did not start")
                time.sleep(0.1)
            for listener in listeners:
                callback = f"http://127.0.0.1:{listener.server_address[1]}/listener"
                body = {"callback": callback, "query": "eventType=ProductOrderCreateEvent"}
                requests.post(base + ORDERING + "/hub", json=body, timeout=10).raise_for_status()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            payload = json.dumps(FAMILY_PLAN).encode()
            sent: dict[str, float] = {}
            started = time.perf_counter()
            for number in range(orders):
                # A steady order rate: each POST starts at its slot, so latency is not hidden by back-pressure.
                slot = started + number / rate
                time.sleep(max(0.0, slot - time.perf_counter()))
                at = time.perf_counter()
                connection.request("POST", ORDERING + "/productOrder", payload, {"Content-Type": "application/json"})
                response = connection.getresponse()
                order = json.loads(response.read())
                sent[order["id"]] = at
            expected = orders * len(listeners)
            deadline = time.monotonic() + 120
            while len(receipts.times) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            latencies = [
                (received - sent[order_id]) * 1000
                for (_, order_id), received in receipts.times.items()
                if order_id in sent
            ]
            last = max(receipts.times.values())
            return {
                "events": float(len(latencies)),
                "expected": float(expected),
                "events_per_second": len(latencies) / (last - started),
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
            database.stop()


def run_baseline(orders: int, listeners: list[ThreadingHTTPServer], receipts: Receipts) -> dict[str, float]:
    """The same number of envelopes POSTed to the same listeners by a bare loop with one pooled Session."""
    session = requests.Session()
    envelope: dict[str, Any] = {"eventType": "ProductOrderCreateEvent", "event": {"productOrder": FAMILY_PLAN}}
    latencies: list[float] = []
    started = time.perf_counter()
    for number in range(orders):
        envelope["event"]["productOrder"] = {**FAMILY_PLAN, "id": f"baseline-{number}"}
        body = json.dumps(envelope).encode()
        for listener in listeners:
            at = time.perf_counter()
            session.post(
                f"http://127.0.0.1:{listener.server_address[1]}/listener",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=10,
            ).close()
            latencies.append((time.perf_counter() - at) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "events": float(len(latencies)),
        "expected": float(orders * len(listeners)),
        "events_per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


def run(orders: int = 100, rate: float = 10.0) -> str:
    baseline_receipts, service_receipts = Receipts(), Receipts()
    baseline_listeners = [start_listener(i, baseline_receipts) for i in range(LISTENERS)]
    service_listeners = [start_listener(i, service_receipts) for i in range(LISTENERS)]
    try:
        baseline = run_baseline(orders, baseline_listeners, baseline_receipts)
        service = run_service(orders, rate, service_listeners, service_receipts)
    finally:
        for listener in baseline_listeners + service_listeners:
            listener.shutdown()
    ratio = service["events_per_second"] / baseline["events_per_second"]
    lines = [
        f"{orders} family-plan orders POSTed at {rate:.0f}/s; 10 loopback listeners subscribed to "
        "ProductOrderCreateEvent; the service on one uvicorn worker with the embedded FerretDB.",
        "",
        "| system | events delivered | events/s | latency p50 ms | latency p99 ms |",
        "|---|---:|---:|---:|---:|",
        f"| baseline: bare requests POST loop | {baseline['events']:.0f}/{baseline['expected']:.0f} | "
        f"{baseline['events_per_second']:.0f} | {baseline['p50_ms']:.1f} | {baseline['p99_ms']:.1f} |",
        f"| service: API call to listener receipt | {service['events']:.0f}/{service['expected']:.0f} | "
        f"{service['events_per_second']:.0f} | {service['p50_ms']:.1f} | {service['p99_ms']:.1f} |",
        "",
        f"Throughput ratio service / baseline: {ratio:.2f} (the service is paced by the order rate; the baseline "
        "sends as fast as it can). Baseline latency is one POST; service latency spans the whole path.",
        f"Median of the two p50s for reference: {statistics.median([baseline['p50_ms'], service['p50_ms']]):.1f} ms.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="orders per second")
    arguments = parser.parse_args()
    print(run(arguments.orders, arguments.rate))
