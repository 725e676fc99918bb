"""Orchestration engine benchmark: from a POSTed family-plan product order to its TMF641 service order, and to the
completed product order with an instant OSS, against raw single-document inserts of the same documents.

Phases (each on a fresh database of one embedded database server, with a fresh `tmf-server serve` process running
the engine and the example catalog loaded first):
1. steady: --orders N orders POSTed at --rate R per second; latency = service order orderDate - POST return.
2. burst: --burst B orders POSTed as fast as --threads clients can; the same latency, and first POST to the last
   service order created.
3. completion: --complete C orders POSTed as a burst with an instant OSS (TMF641 over HTTP only); first POST to
   the last product order completed.
4. baseline: pymongo insert_one of a real product order and a real service order document from the run, one at
   a time, into a scratch collection of the same database server.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bson
import requests
from pymongo import MongoClient
from pymongo.database import Database

from tmf622_product_ordering.repository import PRODUCT_ORDERS
from tmf641_service_ordering.repository import SERVICE_ORDERS
from tmf_common.clock import parse_instant
from tmf_common.embedded_db import RunningDatabase, free_loopback_port, start_database
from tmf_server.example_catalog import load_example_catalog

ROOT = Path(__file__).resolve().parents[1]
ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
FAMILY_PLAN = json.loads((ROOT / "examples" / "orders" / "family-plan-order.json").read_text())
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
# Product order states the engine does not move on from by itself (held waits for an operator).
SETTLED_STATES = frozenset({"completed", "failed", "partial", "cancelled", "rejected", "held"})
SCRATCH_COLLECTION = "bench_raw_insert"
PROGRESS_SECONDS = 15.0
# The waits poll the database under test; every poll scans a collection on FerretDB, so they poll sparingly.
# The measured times come from the server's stamps (orderDate, completionDate), not from when a poll saw them.
SERVICE_ORDER_POLL_SECONDS = 1.0
COMPLETION_POLL_SECONDS = 5.0
STOP_SECONDS = 30.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def epoch(instant: str) -> float:
    return parse_instant(instant).timestamp()


# -- the service under test -------------------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes]) -> bool:
    """Terminate, and kill after STOP_SECONDS; False when it had to be killed."""
    if process.poll() is not None:
        return True
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)
        return False


@dataclass
class Service:
    base: str
    port: int
    database: Database
    log_path: Path
    stopped_cleanly: bool = True


@contextlib.contextmanager
def serving(db: RunningDatabase, client: MongoClient, name: str, log_dir: Path) -> Iterator[Service]:
    """`tmf-server serve` with the engine on a fresh database `name`; stopped when the block ends."""
    client.drop_database(name)
    port = free_loopback_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TMF_MONGODB_URI": db.uri,
        "TMF_DATABASE": name,
        "TMF_PORT": str(port),
        "TMF_RUN_ENGINE": "1",
        "TMF_DELIVER_EVENTS": "1",
        "TMF_ALLOW_PRIVATE_CALLBACKS": "1",
    }
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log_file:
        # Its own session: a Ctrl-C reaches only the benchmark, which then stops the server cleanly.
        process = subprocess.Popen(
            [sys.executable, "-m", "tmf_server.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    service = Service(base, port, client[name], log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode}: {tail(log_path)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + "/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {tail(log_path)}")
            time.sleep(0.1)
        yield service
    finally:
        service.stopped_cleanly = stop_process(process)


def tail(path: Path, characters: int = 2000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else ""


# Log lines that say nothing about the engine: APScheduler noting that an interval run was skipped because the
# previous run is still going, and connexion choosing a content type when it builds the operations.
BENIGN_LOG_LINES = ("maximum number of running instances reached", "accepts multiple content types")


def log_problems(path: Path) -> list[str]:
    """Warning, error and traceback lines of a server log (the engine logs its failures there)."""
    if not path.exists():
        return []
    return [
        line
        for line in path.read_text(errors="replace").splitlines()
        if (" WARNING " in line or " ERROR " in line or line.startswith("Traceback"))
        and not any(benign in line for benign in BENIGN_LOG_LINES)
    ]


def order_payload(base: str) -> bytes:
    """The reference family-plan order with its catalog x-keys replaced by the ids of the loaded offerings."""
    created = load_example_catalog(base)
    body = copy.deepcopy(FAMILY_PLAN)
    for item in body["productOrderItem"]:
        offering = item["productOffering"]
        if offering["id"] not in created:
            raise RuntimeError(f"the example catalog has no offering with x-key {offering['id']!r}")
        offering["id"] = created[offering["id"]]["id"]
    return json.dumps(body).encode()


# -- posting orders ---------------------------------------------------------------------------------------------


@dataclass
class Posted:
    """Wall-clock times (time.time(), comparable with the server's timestamps) of the POSTs, by product order id."""

    sent: dict[str, float] = field(default_factory=dict)
    returned: dict[str, float] = field(default_factory=dict)

    @property
    def first_sent(self) -> float:
        return min(self.sent.values())

    @property
    def last_returned(self) -> float:
        return max(self.returned.values())


def post_order(connection: http.client.HTTPConnection, payload: bytes) -> tuple[str, float, float]:
    sent = time.time()
    connection.request("POST", ORDERING + "/productOrder", payload, {"Content-Type": "application/json"})
    response = connection.getresponse()
    body = response.read()
    returned = time.time()
    if response.status != 201:
        raise RuntimeError(f"POST productOrder answered {response.status}: {body[:500]!r}")
    return str(json.loads(body)["id"]), sent, returned


def post_steady(port: int, payload: bytes, count: int, rate: float) -> Posted:
    posted = Posted()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    try:
        for number in range(count):
            # Each POST starts at its slot, so latency is not hidden by back-pressure.
            time.sleep(max(0.0, started + number / rate - time.perf_counter()))
            order_id, sent, returned = post_order(connection, payload)
            posted.sent[order_id], posted.returned[order_id] = sent, returned
    finally:
        connection.close()
    return posted


def post_burst(port: int, payload: bytes, count: int, threads: int) -> Posted:
    posted = Posted()
    lock = threading.Lock()
    remaining = [count]
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while not stop.is_set():
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                order_id, sent, returned = post_order(connection, payload)
                with lock:
                    posted.sent[order_id], posted.returned[order_id] = sent, returned
        except BaseException as error:
            errors.append(error)
            stop.set()
        finally:
            connection.close()

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        stop.set()
    if errors:
        raise RuntimeError(f"posting failed: {errors[0]}") from errors[0]
    return posted


# -- reading the outcome from the database ----------------------------------------------------------------------


def service_orders_by_product_order(database: Database) -> dict[str, list[str]]:
    """Product order id -> orderDate of each service order that names it in externalReference."""
    found: dict[str, list[str]] = {}
    for document in database[SERVICE_ORDERS].find({}, {"orderDate": 1, "externalReference": 1}):
        for reference in document.get("externalReference") or []:
            if reference.get("externalReferenceType") == "ProductOrder" and reference.get("id"):
                found.setdefault(str(reference["id"]), []).append(str(document["orderDate"]))
    return found


def wait_for_service_orders(database: Database, ids: set[str], timeout: float, label: str) -> dict[str, list[str]]:
    """Polls until every posted order has a service order, or the deadline passes (then returns what there is)."""
    deadline = time.monotonic() + timeout
    next_progress = time.monotonic() + PROGRESS_SECONDS
    while True:
        # A count first: reading every service order on each poll would load the database under test.
        if database[SERVICE_ORDERS].count_documents({}) >= len(ids):
            found = service_orders_by_product_order(database)
            if ids <= found.keys():
                return found
        if time.monotonic() > deadline:
            return service_orders_by_product_order(database)
        if time.monotonic() > next_progress:
            log(f"{label}: {database[SERVICE_ORDERS].count_documents({})}/{len(ids)} service orders created")
            next_progress += PROGRESS_SECONDS
        time.sleep(SERVICE_ORDER_POLL_SECONDS)


@dataclass
class Latencies:
    orders: int
    with_service_order: int
    service_orders: int
    latencies_ms: list[float]
    first_sent: float
    first_service_order: float
    last_service_order: float
    missing: list[str]

    @property
    def span(self) -> float:
        return self.last_service_order - self.first_sent

    @property
    def creation_rate(self) -> float:
        return self.with_service_order / self.span if self.span > 0 else float("nan")


def latencies(posted: Posted, found: dict[str, list[str]]) -> Latencies:
    values: list[float] = []
    stamps: list[float] = []
    for order_id, returned in posted.returned.items():
        dates = found.get(order_id)
        if dates:
            created = min(epoch(date) for date in dates)
            stamps.append(created)
            values.append((created - returned) * 1000)
    return Latencies(
        orders=len(posted.returned),
        with_service_order=len(values),
        service_orders=sum(len(found.get(order_id, [])) for order_id in posted.returned),
        latencies_ms=values,
        first_sent=posted.first_sent,
        first_service_order=min(stamps, default=float("nan")),
        last_service_order=max(stamps, default=float("nan")),
        missing=sorted(set(posted.returned) - found.keys()),
    )


def explain_missing(database: Database, order_ids: list[str], limit: int = 5) -> list[str]:
    """For orders that did not get as far as expected: the product order's state and the engine's plan."""
    lines = []
    for order_id in order_ids[:limit]:
        order = database[PRODUCT_ORDERS].find_one({"_id": order_id}, {"state": 1, "note": 1}) or {}
        plan = database["fulfilment_plan"].find_one({"_id": order_id}) or {}
        tasks = [f"{task.get('id')}={task.get('state')}" for task in plan.get("tasks") or []]
        signals = database["orchestration_signal"].count_documents({"orderId": order_id})
        lines.append(
            f"productOrder {order_id}: state={order.get('state')} plan={plan.get('state', 'none')} "
            f"reason={plan.get('reason')!r} tasks=[{', '.join(tasks)}] pending signals={signals}"
        )
    return lines


# -- the instant OSS ----------------------------------------------------------------------------------------------


class InstantOss:
    """Speaks only TMF641 over HTTP, as an OSS that consumes the hub: a subscription to ServiceOrderCreateEvent on
    a loopback listener hands it each new service order, whose items it PATCHes to inProgress, then completed
    (application/merge-patch+json), a few service orders at a time. A sweep of the acknowledged list every
    `interval` seconds catches anything the hub did not bring (a list query scans every service order on FerretDB,
    so the sweep is slow)."""

    def __init__(self, base: str, interval: float, workers: int = 4) -> None:
        self.base = base
        self.url = base + SERVICE_ORDERING + "/serviceOrder"
        self.interval = interval
        self._listener = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._subscription: str | None = None
        self.completed = 0
        self.errors: list[str] = []
        self._handled: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oss")
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> InstantOss:
        threading.Thread(target=self._listener.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        callback = f"http://127.0.0.1:{self._listener.server_address[1]}/listener"
        response = self._session().post(
            self.base + SERVICE_ORDERING + "/hub",
            json={"callback": callback, "query": "eventType=ServiceOrderCreateEvent"},
            timeout=60,
        )
        response.raise_for_status()
        self._subscription = response.json()["id"]
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._listener.shutdown()
        self._listener.server_close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        oss = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                envelope = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()
                order = (envelope.get("event") or {}).get("serviceOrder") or {}
                if order.get("id") and order.get("state") == "acknowledged":
                    oss._take(order)

            def log_message(self, *_: Any) -> None:
                return

        return Handler

    def _take(self, order: dict[str, Any]) -> None:
        with self._lock:
            if order["id"] in self._handled:
                return
            self._handled.add(order["id"])
        with contextlib.suppress(RuntimeError):  # the pool is shutting down
            self._pool.submit(self._complete, order)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                response = self._session().get(f"{self.url}?state=acknowledged&limit=1000", timeout=60)
                if response.status_code != 200:
                    self._error(f"GET serviceOrder list answered {response.status_code}: {response.text[:200]}")
                    continue
                for order in response.json():
                    self._take(order)
            except requests.RequestException as error:
                self._error(f"GET serviceOrder list failed: {error}")
            except RuntimeError:  # the pool is shutting down
                return

    def _complete(self, order: dict[str, Any]) -> None:
        order_id = order["id"]
        for state in ("inProgress", "completed"):
            order = self._items_to(order, state)
            if not order:
                with self._lock:
                    self._handled.discard(order_id)  # listed again while still acknowledged
                return
        with self._lock:
            self.completed += 1

    def _items_to(self, order: dict[str, Any], state: str) -> dict[str, Any]:
        url = f"{self.url}/{order['id']}"
        for _ in range(5):
            items = [{**item, "state": state} for item in order["serviceOrderItem"]]
            try:
                response = self._session().patch(url, json={"serviceOrderItem": items}, headers=MERGE_PATCH, timeout=60)
                if response.status_code == 200:
                    patched: dict[str, Any] = response.json()
                    return patched
                self._error(f"PATCH {order['id']} to {state} answered {response.status_code}: {response.text[:200]}")
                fresh = self._session().get(url, timeout=60)
                if fresh.status_code == 200:
                    order = fresh.json()
            except requests.RequestException as error:
                self._error(f"PATCH {order['id']} to {state} failed: {error}")
            time.sleep(0.2)
        return {}

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)


def wait_for_completion(
    database: Database, ids: set[str], timeout: float, progress: Callable[[], str]
) -> dict[str, dict[str, Any]]:
    """Polls the product orders until all are completed (or settled elsewhere), or the deadline passes."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    next_progress = started + PROGRESS_SECONDS
    while True:
        completed = database[PRODUCT_ORDERS].count_documents({"state": "completed"})
        done = time.monotonic() > deadline or completed >= len(ids)
        if not done and time.monotonic() > next_progress:
            states = Counter(d.get("state") for d in database[PRODUCT_ORDERS].find({}, {"state": 1}))
            log(f"completion: {time.monotonic() - started:.0f} s, product orders {dict(states)}; {progress()}")
            next_progress += PROGRESS_SECONDS
            done = sum(count for state, count in states.items() if state in SETTLED_STATES) >= len(ids)
        if done:
            return {
                str(d["_id"]): d
                for d in database[PRODUCT_ORDERS].find({}, {"state": 1, "completionDate": 1})
                if str(d["_id"]) in ids
            }
        time.sleep(COMPLETION_POLL_SECONDS)


# -- the phases --------------------------------------------------------------------------------------------------


@dataclass
class Completion:
    orders: int
    completed: int
    states: dict[str, int]
    seconds: float
    all_posted_seconds: float
    service_orders: int
    oss_completed: int
    oss_errors: list[str]
    not_completed: list[str]
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class RawInserts:
    docs_per_second: float
    product_order_per_second: float
    service_order_per_second: float
    product_order_bytes: int
    service_order_bytes: int
    count: int


def sample_documents(database: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    product_order = database[PRODUCT_ORDERS].find_one({})
    service_order = database[SERVICE_ORDERS].find_one({})
    if product_order is None or service_order is None:
        raise RuntimeError("no product order and service order to take as the baseline's documents")
    return product_order, service_order


def raw_inserts(
    database: Database, product_order: dict[str, Any], service_order: dict[str, Any], count: int
) -> RawInserts:
    """insert_one of each document, one at a time, alternating the two, into a scratch collection."""
    scratch = database[SCRATCH_COLLECTION]
    scratch.drop()
    documents = [
        {key: value for key, value in product_order.items() if key != "_id"},
        {key: value for key, value in service_order.items() if key != "_id"},
    ]
    spent = [0.0, 0.0]
    try:
        for number in range(20):  # warm-up: the collection exists and the connection is open
            scratch.insert_one({**documents[number % 2], "_id": f"warm-{number}"})
        for number in range(count):
            for kind, document in enumerate(documents):
                at = time.perf_counter()
                scratch.insert_one({**document, "_id": f"raw-{number}-{kind}"})
                spent[kind] += time.perf_counter() - at
    finally:
        scratch.drop()
    return RawInserts(
        docs_per_second=2 * count / sum(spent),
        product_order_per_second=count / spent[0],
        service_order_per_second=count / spent[1],
        product_order_bytes=len(bson.encode(documents[0])),
        service_order_bytes=len(bson.encode(documents[1])),
        count=count,
    )


@dataclass
class Results:
    arguments: argparse.Namespace
    database_kind: str = ""
    steady: Latencies | None = None
    burst: Latencies | None = None
    completion: Completion | None = None
    raw: RawInserts | None = None
    problems: list[str] = field(default_factory=list)
    log_problems: dict[str, list[str]] = field(default_factory=dict)


def service_order_phase(
    service: Service, label: str, post: Callable[[bytes], Posted], timeout: float, results: Results
) -> Latencies:
    payload = order_payload(service.base)
    posted = post(payload)
    log(f"{label}: {len(posted.returned)} orders posted in {posted.last_returned - posted.first_sent:.1f} s")
    found = wait_for_service_orders(service.database, set(posted.returned), timeout, label)
    measured = latencies(posted, found)
    if measured.missing:
        results.problems.append(
            f"{label}: {len(measured.missing)} orders without a service order after {timeout:.0f} s"
        )
        results.problems += explain_missing(service.database, measured.missing)
    if measured.service_orders != measured.with_service_order:
        results.problems.append(
            f"{label}: {measured.service_orders} service orders for {measured.with_service_order} product orders"
        )
    log(
        f"{label}: {measured.with_service_order}/{measured.orders} with a service order; latency p50 "
        f"{percentile(measured.latencies_ms, 0.5):.0f} ms, p99 {percentile(measured.latencies_ms, 0.99):.0f} ms; "
        f"last service order {measured.span:.1f} s after the first POST"
    )
    return measured


def completion_phase(service: Service, arguments: argparse.Namespace, results: Results) -> Completion:
    payload = order_payload(service.base)
    database = service.database
    with InstantOss(service.base, arguments.oss_interval) as oss:
        posted = post_burst(service.port, payload, arguments.complete, arguments.threads)
        log(f"completion: {len(posted.returned)} orders posted in {posted.last_returned - posted.first_sent:.1f} s")
        ids = set(posted.returned)
        final = wait_for_completion(
            database,
            ids,
            phase_timeout(arguments, arguments.complete),
            lambda: (
                f"service orders {database[SERVICE_ORDERS].count_documents({})}, "
                f"OSS completed {oss.completed}, OSS errors {len(oss.errors)}"
            ),
        )
    states = Counter(str(document.get("state")) for document in final.values())
    completed_at = {
        order_id: epoch(document["completionDate"])
        for order_id, document in final.items()
        if document.get("state") == "completed" and document.get("completionDate")
    }
    completion_dates = list(completed_at.values())
    not_completed = sorted(order_id for order_id in ids if final.get(order_id, {}).get("state") != "completed")
    result = Completion(
        orders=len(ids),
        completed=states.get("completed", 0),
        states=dict(states),
        seconds=max(completion_dates, default=float("nan")) - posted.first_sent,
        all_posted_seconds=posted.last_returned - posted.first_sent,
        service_orders=database[SERVICE_ORDERS].count_documents({}),
        oss_completed=oss.completed,
        oss_errors=oss.errors,
        not_completed=not_completed,
        latencies_ms=[(at - posted.returned[order_id]) * 1000 for order_id, at in completed_at.items()],
    )
    if not_completed:
        results.problems.append(
            f"completion: {len(not_completed)} of {len(ids)} product orders not completed after "
            f"{phase_timeout(arguments, arguments.complete):.0f} s (states {dict(states)})"
        )
        results.problems += explain_missing(database, not_completed)
    if oss.errors:
        results.problems.append(f"completion: {len(oss.errors)} OSS request errors, first: {oss.errors[0]}")
    log(f"completion: {result.completed}/{result.orders} completed in {result.seconds:.1f} s")
    return result


def phase_timeout(arguments: argparse.Namespace, orders: int) -> float:
    """--timeout, or by default 10 minutes plus 10 s per order (the engine on FerretDB is slow; see the progress)."""
    return float(arguments.timeout) if arguments.timeout > 0 else 600.0 + 10.0 * orders


def run(arguments: argparse.Namespace) -> Results:
    results = Results(arguments)

    def measure(phase: str, service: Service) -> None:
        if phase == "steady":
            results.steady = service_order_phase(
                service,
                phase,
                lambda payload: post_steady(service.port, payload, arguments.orders, arguments.rate),
                phase_timeout(arguments, arguments.orders),
                results,
            )
        elif phase == "burst":
            results.burst = service_order_phase(
                service,
                phase,
                lambda payload: post_burst(service.port, payload, arguments.burst, arguments.threads),
                phase_timeout(arguments, arguments.burst),
                results,
            )
        else:
            results.completion = completion_phase(service, arguments, results)

    phases = [("steady", arguments.orders), ("burst", arguments.burst), ("completion", arguments.complete)]
    with tempfile.TemporaryDirectory(prefix="tmf-bench-orchestration-") as data_dir:
        log_dir = Path(arguments.log_dir) if arguments.log_dir else Path(data_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        database = start_database(Path(data_dir) / "db")
        results.database_kind = database.kind
        client: MongoClient = MongoClient(database.uri, serverSelectionTimeoutMS=30_000)
        try:
            last: Database | None = None
            for name, orders in phases:
                if orders <= 0:
                    continue
                # A fresh database and service per phase: no phase inherits another's orders or backlog.
                with serving(database, client, f"bench_orch_{name}", log_dir) as service:
                    measure(name, service)
                results.log_problems[name] = log_problems(service.log_path)
                if not service.stopped_cleanly:
                    results.problems.append(
                        f"{name}: the server did not stop within {STOP_SECONDS:.0f} s of SIGTERM and was killed"
                    )
                last = service.database
            if last is not None and arguments.raw > 0:
                # The service is stopped: the inserts have the database server to themselves.
                product_order, service_order = sample_documents(last)
                results.raw = raw_inserts(last, product_order, service_order, arguments.raw)
                log(f"baseline: {results.raw.docs_per_second:.0f} raw inserts/s")
        finally:
            client.close()
            database.stop()
    return results


# -- the report ----------------------------------------------------------------------------------------------------


def command_line(arguments: argparse.Namespace) -> str:
    options = [
        f"--rate {arguments.rate:g}",
        f"--orders {arguments.orders}",
        f"--burst {arguments.burst}",
        f"--threads {arguments.threads}",
        f"--complete {arguments.complete}",
        f"--raw {arguments.raw}",
        f"--oss-interval {arguments.oss_interval:g}",
        f"--timeout {arguments.timeout:g}",
    ]
    return ".venv/bin/python -m bench.orchestration " + " ".join(options)


def report(results: Results) -> str:
    arguments = results.arguments
    raw = results.raw
    lines = [
        f"Family-plan product orders (4 items -> 1 service order of 4 items); the service as `tmf-server serve` "
        f"(one process: API, event relay, engine with {os.environ.get('TMF_ENGINE_WORKERS', '4')} workers) on the "
        f"embedded {results.database_kind}, a fresh database and catalog per phase; {os.cpu_count()} cores.",
        "",
        "| phase | orders | with service order | completed | p50 ms | p99 ms | max ms | span s | orders/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def latency_row(name: str, measured: Latencies) -> str:
        return (
            f"| {name} | {measured.orders} | {measured.with_service_order}/{measured.orders} | - | "
            f"{percentile(measured.latencies_ms, 0.5):.0f} | {percentile(measured.latencies_ms, 0.99):.0f} | "
            f"{max(measured.latencies_ms, default=float('nan')):.0f} | {measured.span:.1f} | "
            f"{measured.creation_rate:.1f} |"
        )

    if results.steady:
        lines.append(latency_row(f"steady {arguments.rate:g}/s: POST return -> service order", results.steady))
    if results.burst:
        lines.append(latency_row(f"burst ({arguments.threads} threads): POST return -> service order", results.burst))
    completion = results.completion
    if completion:
        lines.append(
            f"| completion burst, instant OSS: first POST -> all completed | {completion.orders} | "
            f"{completion.service_orders} service orders | {completion.completed}/{completion.orders} | "
            f"{percentile(completion.latencies_ms, 0.5):.0f} | {percentile(completion.latencies_ms, 0.99):.0f} | "
            f"{max(completion.latencies_ms, default=float('nan')):.0f} | {completion.seconds:.1f} | "
            f"{completion.rate:.2f} |"
        )
    if raw:
        lines.append(
            f"| baseline: raw pymongo insert_one, one at a time | {2 * raw.count} docs | - | - | - | - | - | "
            f"{2 * raw.count / raw.docs_per_second:.1f} | {raw.docs_per_second:.0f} docs |"
        )
    lines.append("")
    lines.append(
        "span: first POST sent -> last service order created (steady, burst) or last product order completed; "
        "orders/s: orders reaching that point / span. Latency: service order orderDate (server clock) - wall-clock "
        "time the POST returned; for completion, the product order's completionDate - POST return."
    )
    if raw:
        lines.append(
            f"Baseline: {raw.count} x (product order {raw.product_order_bytes} B + service order "
            f"{raw.service_order_bytes} B BSON, real documents from the run) into a scratch collection of the same "
            f"server: product orders {raw.product_order_per_second:.0f}/s, service orders "
            f"{raw.service_order_per_second:.0f}/s, together {raw.docs_per_second:.0f} docs/s."
        )
        if results.burst:
            lines.append(
                f"Ratio burst service orders created/s by the engine / raw service-order inserts/s: "
                f"{results.burst.creation_rate / raw.service_order_per_second:.4f}"
            )
        if completion:
            lines.append(
                f"Ratio completed orders/s / raw product-order inserts/s: "
                f"{completion.rate / raw.product_order_per_second:.4f}; / raw docs/s: "
                f"{completion.rate / raw.docs_per_second:.4f}"
            )
    if completion:
        lines.append(
            f"Completion: all {completion.orders} POSTs returned after {completion.all_posted_seconds:.1f} s; the OSS "
            f"completed {completion.oss_completed} service orders (from hub events, and a sweep every "
            f"{arguments.oss_interval:g} s) with "
            f"{len(completion.oss_errors)} request errors; final product order states {completion.states}."
        )
    for phase, problems in results.log_problems.items():
        if problems:
            distinct = sorted({line.split(": ", 1)[-1][:160] for line in problems})
            lines.append(f"Server log ({phase}): {len(problems)} warning/error lines, e.g. {distinct[:3]}")
    if results.problems:
        lines.append("")
        lines.append("Problems:")
        lines += [f"- {problem}" for problem in results.problems]
    else:
        lines.append("Every order reached its service order (and, with the OSS, completion) within the deadline.")
    lines += ["", f"Command: `{command_line(arguments)}`"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__)
    parser.add_argument("--rate", type=float, default=5.0, help="steady phase: orders per second")
    parser.add_argument("--orders", type=int, default=50, help="steady phase: orders (0 skips it)")
    parser.add_argument("--burst", type=int, default=200, help="burst phase: orders (0 skips it)")
    parser.add_argument("--threads", type=int, default=8, help="posting threads of the burst and completion phases")
    parser.add_argument("--complete", type=int, default=1000, help="completion phase: orders (0 skips it)")
    parser.add_argument("--raw", type=int, default=500, help="baseline: inserts of each of the two documents")
    parser.add_argument(
        "--oss-interval", type=float, default=10.0, help="seconds between the OSS's sweeps of the acknowledged list"
    )
    parser.add_argument(
        "--timeout", type=float, default=0.0, help="deadline of each phase's wait, seconds (0: 600 + 10 per order)"
    )
    parser.add_argument("--log-dir", default=None, help="keep the server logs here (default: the temp directory)")
    arguments = parser.parse_args()
    if arguments.rate <= 0 or arguments.threads < 1:
        parser.error("--rate must be positive and --threads at least 1")

    # SIGTERM unwinds like Ctrl-C, so the server and the database are stopped by the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Also when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    invoked = shlex.join(["python", "-m", "bench.orchestration", *sys.argv[1:]])
    log(f"running: {invoked}")
    try:
        results = run(arguments)
    except KeyboardInterrupt:
        log("interrupted; the server and the database are stopped")
        sys.exit(130)
    print(report(results))


if __name__ == "__main__":
    main()
