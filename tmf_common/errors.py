"""The TMF Error model: exceptions the services raise and the body every error response carries."""

from __future__ import annotations

from typing import Any


class TmfError(Exception):
    """An error the API reports to its client; status and code say what kind."""

    status: int = 500
    code: str = "INTERNAL_ERROR"
    reason: str = "Internal error"

    def __init__(self, message: str, *, reason: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code


class BadRequest(TmfError):
    status = 400
    code = "INVALID_REQUEST"
    reason = "Bad request"


class NotFound(TmfError):
    status = 404
    code = "NOT_FOUND"
    reason = "Not found"


class MethodNotAllowed(TmfError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    reason = "Method not allowed"


class Conflict(TmfError):
    status = 409
    code = "CONFLICT"
    reason = "Conflict"


class PreconditionFailed(TmfError):
    status = 412
    code = "PRECONDITION_FAILED"
    reason = "Precondition failed"


class PayloadTooLarge(TmfError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    reason = "Payload too large"


class UnsupportedMediaType(TmfError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    reason = "Unsupported media type"


class ServiceUnavailable(TmfError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    reason = "Service unavailable"


_REASONS_BY_STATUS: dict[int, tuple[str, str]] = {
    cls.status: (cls.code, cls.reason)
    for cls in (
        BadRequest,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        ServiceUnavailable,
    )
}


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    reason: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    default_code, default_reason = _REASONS_BY_STATUS.get(status, ("INTERNAL_ERROR", "Internal error"))
    body: dict[str, Any] = {
        "code": code or default_code,
        "reason": reason or default_reason,
        "message": message,
        "status": str(status),
        "@type": "Error",
    }
    if correlation_id is not None:
        body["correlationId"] = correlation_id
    return body


def body_for(error: TmfError) -> dict[str, Any]:
    return error_body(error.status, error.message, code=error.code, reason=error.reason)
