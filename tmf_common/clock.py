"""UTC timestamps in the one canonical RFC 3339 form the service stores and returns."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_instant(moment: datetime) -> str:
    # Millisecond precision with a Z suffix: fixed width, so string order equals time order in the database.
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 to four digits.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def utc_now() -> str:
    return format_instant(datetime.now(UTC))


def is_date_time(text: str) -> bool:
    return bool(_DATE_TIME.match(text))


def canonical_date_time(text: str) -> str | None:
    """The canonical form of an RFC 3339 date-time with an offset, or None if text is not one."""
    if not _DATE_TIME.match(text):
        return None
    normalized = text.replace("z", "Z").replace("t", "T").replace(" ", "T")
    if normalized.endswith("Z"):
        normalized = normalized[:-1] + "+00:00"
    try:
        return format_instant(datetime.fromisoformat(normalized))
    except (ValueError, OverflowError):  # OverflowError: the instant in UTC falls outside years 1 to 9999
        return None


def canonical_filter_instant(text: str) -> str | None:
    """A date or date-time filter value as a canonical instant; a bare date means its midnight UTC."""
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return format_instant(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return canonical_date_time(text)


def parse_instant(text: str) -> datetime:
    """A timestamp this service wrote (format_instant) back as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
