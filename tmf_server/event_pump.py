"""The scheduler job that relays recorded events and sends due deliveries: woken by writes, polling as safety net."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from tmf_common.delivery import DeliveryWorker, EventRelay

log = logging.getLogger("tmf.events")
JOB_ID = "event-pump"
MAX_OUTBOX_SCAN_SECONDS = 30.0
SCAN_DUTY_FACTOR = 10.0
SCAN_JOB_ID = "event-scan"


class EventPump:
    """Runs relay and delivery in a background thread (APScheduler), never on the request event loop.

    A write that records events calls notify(); the job then runs at once for that resource. The interval run
    is the safety net: it relays whatever other processes (or a crash) left behind and sends retries that fell due.
    """

    def __init__(self, relay: EventRelay, worker: DeliveryWorker, poll_seconds: float = 1.0, send: bool = True) -> None:
        self.relay = relay
        self.worker = worker
        # False: relay only (for the engine's consumer), and leave webhook sending to other processes.
        self.send = send
        if send:
            # Deliveries are sent as soon as the relay has stored them.
            relay.on_queued = worker.dispatch
        self.poll_seconds = poll_seconds
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._hints: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._running = False
        self._in_run = threading.Event()
        # The outbox scan reads every resource collection in full on FerretDB, so it backs off while it finds
        # nothing: a process's own writes are relayed by the wake-up path, and what the scan is for (a crashed
        # writer's events, an API-only process's) waits at most MAX_OUTBOX_SCAN_SECONDS.
        self._outbox_scan_interval = poll_seconds
        self._next_outbox_scan = 0.0

    def start(self) -> None:
        self._every_poll(self.run, JOB_ID)
        # The scans run as their own job, so a woken relay never waits behind one.
        self._every_poll(self.scan, SCAN_JOB_ID)
        self.scheduler.start()
        self._running = True

    def _every_poll(self, job: Callable[[], None], job_id: str) -> None:
        self.scheduler.add_job(
            job,
            "interval",
            seconds=self.poll_seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def stop(self) -> None:
        if self._running:
            self._running = False
            self.scheduler.shutdown(wait=True)
        self.worker.close()

    def notify(self, collection: str, resource_id: str) -> None:
        with self._lock:
            self._hints.add((collection, resource_id))
        self._dirty.set()
        # A run in progress sees the dirty flag before it returns; waking the scheduler then would only make it
        # skip a second concurrent run.
        if self._running and not self._in_run.is_set():
            try:
                self.scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
            except Exception:  # the scheduler is shutting down; the next start relays from the database
                log.debug("event pump not woken", exc_info=True)

    def run(self) -> None:
        """One job run: keep going while writes keep waking it, so a wake during a run is never lost.

        Runs relay only the resources that were written (by `_id`, fast); `scan` finds the rest.
        """
        while True:
            self._in_run.set()
            try:
                while True:
                    self._dirty.clear()
                    self._pump_once()
                    if not self._dirty.is_set() or not self._running:
                        break
            except Exception:
                log.exception("event pump run failed; the next run retries")
            finally:
                self._in_run.clear()
            # A wake that came between the last check and the flag going down is served now, not at the next poll.
            # When stopping, what is left waits in the outbox for the next start (of this or another process).
            if not self._dirty.is_set() or not self._running:
                return

    def _pump_once(self) -> None:
        with self._lock:
            hints, self._hints = self._hints, set()
        by_collection: dict[str, list[str]] = {}
        for collection, resource_id in hints:
            by_collection.setdefault(collection, []).append(resource_id)
        for collection, resource_ids in by_collection.items():
            self.relay.relay_documents(collection, resource_ids)

    def scan(self) -> None:
        """The safety net: relay what other processes or a crash left, and send retries that fell due."""
        try:
            if time.monotonic() >= self._next_outbox_scan:
                started = time.monotonic()
                _, found = self.relay.relay_all()
                took = time.monotonic() - started
                self._outbox_scan_interval = (
                    self.poll_seconds if found else min(self._outbox_scan_interval * 2, MAX_OUTBOX_SCAN_SECONDS)
                )
                # Never more than a tenth of the time scanning: under a backlog the scan keeps finding events
                # (the wake-up path is relaying them) and, reading every document, would starve that very path.
                self._next_outbox_scan = time.monotonic() + max(self._outbox_scan_interval, SCAN_DUTY_FACTOR * took)
            if self.send:
                self.worker.deliver_due()
        except Exception:
            log.exception("event scan failed; the next poll retries")
