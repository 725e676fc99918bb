"""Service settings read once from TMF_* environment variables into one frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    mongodb_uri: str | None = None
    database_name: str = "tmf"
    data_dir: Path = Path("var")
    public_url: str | None = None
    max_body_bytes: int = 1_048_576
    max_json_depth: int = 32
    default_page_limit: int = DEFAULT_PAGE_LIMIT
    max_page_limit: int = MAX_PAGE_LIMIT
    validate_responses: bool = False
    # Callbacks to private and loopback addresses: refused by default (SSRF), allowed for development and tests.
    allow_private_callbacks: bool = False
    # Relay and deliver events in this process; a process that only serves the API may turn it off.
    deliver_events: bool = True
    event_poll_seconds: float = 1.0
    # Webhook retry policy (tmf_common.retry.WEBHOOK_RETRY_POLICY by default; tests shorten it).
    webhook_max_attempts: int = 25
    webhook_first_delay_seconds: float = 1.0
    webhook_max_delay_seconds: float = 300.0
    webhook_max_age_seconds: float = 7200.0
    # How long a sender owns an attempt; a delivery whose sender died is tried again after it.
    webhook_lease_seconds: float = 30.0
    # Run the orchestration engine in this process (any number of processes may).
    run_engine: bool = True
    engine_poll_seconds: float = 2.0
    engine_workers: int = 4
    # How long the OSS has to bring a service order to an outcome before the product order is held for care.
    service_order_deadline_seconds: float = 7 * 24 * 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        public_url = env.get("TMF_PUBLIC_URL") or None
        return cls(
            host=env.get("TMF_HOST", cls.host),
            port=int(env.get("TMF_PORT", str(cls.port))),
            mongodb_uri=env.get("TMF_MONGODB_URI") or None,
            database_name=env.get("TMF_DATABASE", cls.database_name),
            data_dir=Path(env.get("TMF_DATA_DIR", str(cls.data_dir))),
            public_url=public_url.rstrip("/") if public_url else None,
            max_body_bytes=int(env.get("TMF_MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_json_depth=int(env.get("TMF_MAX_JSON_DEPTH", str(cls.max_json_depth))),
            validate_responses=env.get("TMF_VALIDATE_RESPONSES", "") in ("1", "true", "yes"),
            allow_private_callbacks=env.get("TMF_ALLOW_PRIVATE_CALLBACKS", "") in ("1", "true", "yes"),
            deliver_events=env.get("TMF_DELIVER_EVENTS", "1") not in ("0", "false", "no"),
            event_poll_seconds=float(env.get("TMF_EVENT_POLL_SECONDS", "1.0")),
            webhook_max_attempts=int(env.get("TMF_WEBHOOK_MAX_ATTEMPTS", "25")),
            webhook_first_delay_seconds=float(env.get("TMF_WEBHOOK_FIRST_DELAY_SECONDS", "1.0")),
            webhook_max_delay_seconds=float(env.get("TMF_WEBHOOK_MAX_DELAY_SECONDS", "300")),
            webhook_max_age_seconds=float(env.get("TMF_WEBHOOK_MAX_AGE_SECONDS", "7200")),
            webhook_lease_seconds=float(env.get("TMF_WEBHOOK_LEASE_SECONDS", "30")),
            run_engine=env.get("TMF_RUN_ENGINE", "1") not in ("0", "false", "no"),
            engine_poll_seconds=float(env.get("TMF_ENGINE_POLL_SECONDS", "2.0")),
            engine_workers=int(env.get("TMF_ENGINE_WORKERS", "4")),
            service_order_deadline_seconds=float(env.get("TMF_SERVICE_ORDER_DEADLINE_SECONDS", str(7 * 24 * 3600))),
        )
