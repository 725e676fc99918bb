"""The settings of the event-delivering test server: fast retries, loopback callbacks allowed."""

from __future__ import annotations

from tests.conftest import TEST_DATABASE
from tmf_common.settings import Settings

DELIVERING_SETTINGS = Settings(
    database_name=TEST_DATABASE,
    deliver_events=True,
    run_engine=False,
    allow_private_callbacks=True,
    event_poll_seconds=0.2,
    webhook_max_attempts=4,
    webhook_first_delay_seconds=0.05,
    webhook_max_delay_seconds=0.3,
    webhook_max_age_seconds=30,
)
