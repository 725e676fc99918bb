"""Runs the orchestration engine: woken per order by the signals the relay records, with an APScheduler poll
of due signals as the safety net (timers, work another process or a crash left behind)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from orchestration.engine import FulfilmentEngine
from orchestration.store import SignalQueue

log = logging.getLogger("tmf.orchestration")
SCAN_JOB_ID = "orchestration-scan"
SCAN_DUTY_FACTOR = 10.0


class EnginePump:
    """Advances orders on a small thread pool, one order at a time per order, several orders at once.

    Blocking database calls never run on the request event loop. A signal is deleted only after the engine
    has acted on its order, so a process killed mid-step leaves the signal for the next poll (of any process).
    """

    def __init__(self, engine: FulfilmentEngine, signals: SignalQueue, poll_seconds: float, workers: int) -> None:
        self.engine = engine
        self.signals = signals
        self.poll_seconds = poll_seconds
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engine")
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}
        self._active: set[str] = set()
        self._running = False
        self._next_scan = 0.0

    def start(self) -> None:
        self._running = True
        self.scheduler.add_job(
            self.scan,
            "interval",
            seconds=self.poll_seconds,
            id=SCAN_JOB_ID,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    def stop(self) -> None:
        if self._running:
            self._running = False
            self.scheduler.shutdown(wait=True)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def notify(self, order_id: str, signal_id: str) -> None:
        with self._lock:
            self._pending.setdefault(order_id, set()).add(signal_id)
            if order_id in self._active or not self._running:
                return  # the worker on it takes the new signal before it lets go
            self._active.add(order_id)
        try:
            self.pool.submit(self._work, order_id)
        except RuntimeError:  # shutting down: the signal stays for the next start
            with self._lock:
                self._active.discard(order_id)

    def _work(self, order_id: str) -> None:
        while True:
            with self._lock:
                signal_ids = self._pending.pop(order_id, set())
            try:
                if self.engine.advance(order_id):
                    self.signals.done(signal_id for signal_id in signal_ids if signal_id)
            except Exception:
                log.exception("productOrder %s: engine step failed; its signals stay for the next poll", order_id)
            with self._lock:
                # Stopping: signals not acted on stay in the database for the next start.
                if not self._pending.get(order_id) or not self._running:
                    self._pending.pop(order_id, None)
                    self._active.discard(order_id)
                    return

    def scan(self) -> None:
        if time.monotonic() < self._next_scan:
            return
        started = time.monotonic()
        try:
            for signal in self.signals.due(datetime.now(UTC)):
                self.notify(signal.order_id, signal.id)
        except Exception:
            log.exception("orchestration scan failed; the next poll retries")
        # The scan reads every signal on FerretDB; under a backlog it must not take the database from the work.
        self._next_scan = time.monotonic() + SCAN_DUTY_FACTOR * (time.monotonic() - started)
