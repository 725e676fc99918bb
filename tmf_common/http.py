"""HTTP plumbing shared by every API: request context, responses, TMF error rendering, body limits."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from connexion import request
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tmf_common.errors import TmfError, body_for, error_body
from tmf_common.jsoncodec import check_depth, check_integers, dumps, loads
from tmf_common.lifecycle import AttributeNotPatchable, ForbiddenTransition, LifecycleError, UnknownState

JSON_MEDIA_TYPE = "application/json;charset=utf-8"
log = logging.getLogger("tmf.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RequestContext:
    """What a service needs to know about the request besides its validated parameters."""

    base_url: str
    raw_query: str = ""
    if_match: str | None = None
    content_type: str | None = None
    idempotency_key: str | None = None


def current_request(public_url: str | None = None) -> RequestContext:
    url = request.url
    headers = request.headers
    return RequestContext(
        base_url=public_url or f"{url.scheme}://{url.netloc}",
        raw_query=url.query,
        if_match=headers.get("if-match"),
        content_type=headers.get("content-type"),
        idempotency_key=headers.get("idempotency-key"),
    )


def services() -> Any:
    """The composition root's service container, placed in request state by the app lifespan."""
    return request.state.services


def etag_of(revision: int) -> str:
    return f'"{revision}"'


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=dumps(body), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def list_response(items: list[dict[str, Any]], total: int) -> Response:
    return json_response(items, 200, {"X-Total-Count": str(total), "X-Result-Count": str(len(items))})


def created_response(body: dict[str, Any], revision: int) -> Response:
    return json_response(body, 201, {"Location": body["href"], "ETag": etag_of(revision)})


def resource_response(body: dict[str, Any], revision: int) -> Response:
    return json_response(body, 200, {"ETag": etag_of(revision)})


def no_content() -> Response:
    return Response(status_code=204)


def _error_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> ConnexionResponse:
    # connexion wants a serialised body here; a dict would be re-rendered as problem+json.
    return ConnexionResponse(
        status_code=status, body=dumps(body).decode(), content_type=JSON_MEDIA_TYPE, headers=headers or {}
    )


def _first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


def render_tmf_error(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    assert isinstance(error, TmfError)
    return _error_response(body_for(error), error.status)


def render_lifecycle_error(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    if isinstance(error, UnknownState):
        return _error_response(error_body(400, str(error), code="UNKNOWN_STATE"), 400)
    if isinstance(error, AttributeNotPatchable) and error.read_only:
        return _error_response(error_body(400, str(error), code="READ_ONLY_ATTRIBUTE"), 400)
    code = "FORBIDDEN_TRANSITION" if isinstance(error, ForbiddenTransition) else "NOT_PATCHABLE_NOW"
    return _error_response(error_body(409, str(error), code=code), 409)


def render_problem(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    assert isinstance(error, ProblemException)
    status = int(error.status or 500)
    message = _first_line(error.detail) or _first_line(error.title) or "Request refused"
    return _error_response(error_body(status, message), status)


class AllowedMethods:
    """The methods each path of the served specs declares, for the Allow header of a 405."""

    def __init__(self, specs: Iterable[dict[str, Any]]) -> None:
        self.routes: list[tuple[re.Pattern[str], str]] = []
        for spec in specs:
            base = spec.get("servers", [{"url": ""}])[0]["url"].rstrip("/")
            for template, operations in spec.get("paths", {}).items():
                pattern = re.escape(base + template).replace(r"\{", "{").replace(r"\}", "}")
                pattern = re.sub(r"\{[^/]+?\}", "[^/]+", pattern)
                methods = sorted(method.upper() for method in operations if method in _HTTP_METHODS)
                self.routes.append((re.compile(f"^{pattern}$"), ", ".join(methods)))

    def for_path(self, path: str) -> str | None:
        for pattern, methods in self.routes:
            if pattern.match(path):
                return methods
        return None


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def http_exception_renderer(allowed: AllowedMethods) -> Callable[[ConnexionRequest, Exception], ConnexionResponse]:
    def render_http_exception(req: ConnexionRequest, error: Exception) -> ConnexionResponse:
        assert isinstance(error, HTTPException)
        status = error.status_code
        headers = dict(error.headers or {})
        if status == 404:
            message = f"No resource at {req.url.path}"
        elif status == 405:
            methods = allowed.for_path(req.url.path)
            if methods:
                headers["Allow"] = methods
            message = f"Method {req.method} is not allowed on {req.url.path}; allowed: {methods or 'none'}"
        else:
            message = _first_line(error.detail) or "Request refused"
        return _error_response(error_body(status, message), status, headers)

    return render_http_exception


def render_unexpected(req: ConnexionRequest, error: Exception) -> ConnexionResponse:
    correlation_id = str(uuid.uuid4())
    log.error(
        "Unhandled error %s on %s %s",
        correlation_id,
        req.method,
        req.url.path,
        exc_info=(type(error), error, error.__traceback__),
    )
    body = error_body(
        500,
        f"Internal error; quote correlation id {correlation_id} when reporting it",
        correlation_id=correlation_id,
    )
    return _error_response(body, 500)


def install_error_handlers(app: Any, specs: Iterable[dict[str, Any]]) -> None:
    app.add_error_handler(TmfError, render_tmf_error)
    app.add_error_handler(LifecycleError, render_lifecycle_error)
    app.add_error_handler(ProblemException, render_problem)
    app.add_error_handler(HTTPException, http_exception_renderer(AllowedMethods(specs)))
    app.add_error_handler(Exception, render_unexpected)


class BodyLimitMiddleware:
    """Refuse bodies over the size limit (413) and JSON nested past the depth limit (400) before parsing."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, f"Request body of {declared} bytes exceeds the limit of {self.max_bytes}")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, f"Request body exceeds the limit of {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if "json" in headers.get("content-type", "") and body:
            try:
                check_depth(body, self.max_depth)
                # Strict parse first: connexion's json.loads would accept NaN and Infinity, which the database
                # cannot store, and fail on invalid UTF-8 with a 500.
                loads(body)
                check_integers(body)
            except TmfError as error:
                await self._refuse(send, error.status, error.message)
                return
            except ValueError as error:
                await self._refuse(send, 400, f"Request body is not valid JSON: {error}")
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, status: int, message: str) -> None:
        payload = dumps(error_body(status, message))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", JSON_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
