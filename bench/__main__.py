"""Run every benchmark: `python -m bench` (or `make bench`). Prints a table with ratios to the same-run baseline."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmf_common.embedded_db import free_loopback_port, start_database

ROOT = Path(__file__).resolve().parents[1]
CATALOG = "/tmf-api/productCatalogManagement/v4"
ORDERING = "/tmf-api/productOrderingManagement/v4"
FAMILY_PLAN = json.loads((ROOT / "examples" / "orders" / "family-plan-order.json").read_text())
OFFERING = {
    "name": "Postpaid Mobile 100 GB + unlimited calls",
    "description": "SIM-only postpaid line",
    "isBundle": False,
    "isSellable": True,
    "lifecycleStatus": "Active",
    "validFor": {"startDateTime": "2026-01-01T00:00:00Z"},
    "productSpecification": {"id": "ps-mobile-line", "name": "Mobile line"},
    "productOfferingPrice": [{"id": "pop-mobile-line-monthly", "name": "Monthly fee"}],
    "category": [{"id": "category-mobile", "name": "Mobile"}],
}


@dataclass(frozen=True)
class Result:
    scenario: str
    system: str
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


Request = Callable[[http.client.HTTPConnection], int]


def post(path: str, body: dict[str, Any]) -> Request:
    payload = json.dumps(body).encode()

    def send(connection: http.client.HTTPConnection) -> int:
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status

    return send


def get(path: str) -> Request:
    def send(connection: http.client.HTTPConnection) -> int:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status

    return send


def drive(port: int, request: Request, expected: int, clients: int, seconds: float) -> tuple[int, float, list[float]]:
    """clients keep-alive connections send requests back to back for the given time."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            status = request(connection)
            latencies[index].append((time.perf_counter() - started) * 1000)
            if status != expected:
                errors.append(f"status {status}")
                return
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"benchmark requests failed: {errors[:3]}")
    merged = [value for chunk in latencies for value in chunk]
    return len(merged), elapsed, merged


@contextmanager
def serving(system: str, uri: str, database: str) -> Iterator[int]:
    port = free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", system, str(port), uri, database],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", CATALOG + "/productOffering?limit=1")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{system} did not start")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass(frozen=True)
class Scenario:
    name: str
    request: Request
    expected: int
    seed: tuple[Request, ...] = ()
    # Lists scan the whole collection on FerretDB/SQLite (see docs/PERFORMANCE.md): fewer concurrent clients
    # keep their latency within the request timeout, and the ratio compares like with like either way.
    clients: int | None = None


SEEDED_MATCHING = 150
SEEDED_OTHERS = 150


def scenarios() -> list[Scenario]:
    """List scenarios run on a database seeded with 150 matching and 150 other resources, so every request
    returns a full page of 100 from the same amount of data whatever the write scenarios left behind."""
    offering_filter = CATALOG + "/productOffering?lifecycleStatus=Active&isBundle=false&limit=100"
    other_order = {**FAMILY_PLAN, "relatedParty": [{**FAMILY_PLAN["relatedParty"][0], "id": "cust-someone-else"}]}
    order_filter = ORDERING + "/productOrder?state=acknowledged&relatedParty.id=cust-john-doe&limit=100"
    return [
        Scenario("POST productOffering", post(CATALOG + "/productOffering", OFFERING), 201),
        Scenario(
            "GET productOffering list (filter, 100 of 300)",
            get(offering_filter),
            200,
            (post(CATALOG + "/productOffering", OFFERING),) * SEEDED_MATCHING
            + (post(CATALOG + "/productOffering", {**OFFERING, "lifecycleStatus": "Retired"}),) * SEEDED_OTHERS,
            clients=2,
        ),
        Scenario("POST productOrder (family plan, 4 items)", post(ORDERING + "/productOrder", FAMILY_PLAN), 201),
        Scenario(
            "GET productOrder list (filters, 100 of 300)",
            get(order_filter),
            200,
            (post(ORDERING + "/productOrder", FAMILY_PLAN),) * SEEDED_MATCHING
            + (post(ORDERING + "/productOrder", other_order),) * SEEDED_OTHERS,
            clients=2,
        ),
    ]


def seed(port: int, requests: tuple[Request, ...]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for request in requests:
        status = request(connection)
        if status != 201:
            raise RuntimeError(f"seeding failed with status {status}")
    connection.close()


def run(seconds: float, clients: int) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="tmf-bench-") as data_dir:
        database = start_database(Path(data_dir))
        try:
            for index, scenario in enumerate(scenarios()):
                for system in ("baseline", "service"):
                    # A fresh database per scenario and system: no run inherits another's data.
                    with serving(system, database.uri, f"bench_{index}_{system}") as port:
                        seed(port, scenario.seed)
                        concurrency = scenario.clients or clients
                        drive(port, scenario.request, scenario.expected, concurrency, min(1.0, seconds / 3))
                        count, elapsed, latencies = drive(
                            port, scenario.request, scenario.expected, concurrency, seconds
                        )
                        results.append(Result(scenario.name, system, count, elapsed, latencies))
                        print(f"{scenario.name} / {system}: {count / elapsed:.0f} req/s", file=sys.stderr)
        finally:
            database.stop()
    return results


def report(results: list[Result], clients: int, seconds: float) -> str:
    lines = [
        f"{clients} concurrent keep-alive clients (2 for the list scenarios), {seconds:.0f} s measured per scenario "
        "after a warm-up, one uvicorn worker per system, a fresh database per scenario and system on one embedded "
        "FerretDB 1.24 (SQLite).",
        "",
        "| scenario | system | req/s | p50 ms | p99 ms | req/s ratio (service / baseline) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    by_key = {(r.scenario, r.system): r for r in results}
    for result in sorted(results, key=lambda r: (r.scenario, r.system)):
        baseline = by_key[(result.scenario, "baseline")]
        ratio = result.throughput / baseline.throughput
        lines.append(
            f"| {result.scenario} | {result.system} | {result.throughput:.0f} | {result.percentile(0.5):.1f} | "
            f"{result.percentile(0.99):.1f} | {ratio:.2f} |"
        )
    medians = statistics.median(
        r.throughput / by_key[(r.scenario, "baseline")].throughput for r in results if r.system == "service"
    )
    lines += ["", f"Median throughput ratio of the service to the baseline: {medians:.2f}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario and system")
    parser.add_argument("--clients", type=int, default=8)
    arguments = parser.parse_args()
    results = run(arguments.seconds, arguments.clients)
    text = report(results, arguments.clients, arguments.seconds)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
