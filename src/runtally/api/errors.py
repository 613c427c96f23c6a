"""Error answers: every failure is JSON ``{"error": code, "message": text}``.

Client mistakes are 4xx with a precise message; Postgres or Redis being unreachable is
503; anything else is logged and answered with a JSON 500 (tests show none occurs).
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtally.api.schemas import ErrorBody

log = logging.getLogger("runtally.api")

_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    422: "invalid_request",
}


class ApiError(Exception):
    """Raise from a route or dependency to answer ``status`` with a JSON error."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def invalid(message: str) -> ApiError:
    return ApiError(422, message)


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = ErrorBody(error=code, message=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers or None)


def _describe(error: Any) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "path"))
    return f"{loc}: {error.get('msg', 'invalid')}" if loc else str(error.get("msg", "invalid"))


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return error_response(exc.status, exc.code, exc.message, **headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message = "; ".join(_describe(e) for e in exc.errors()) or "invalid request"
    return error_response(422, "invalid_request", message)


_FASTAPI_BAD_BODY = "There was an error parsing the body"
BAD_BODY = "body: JSON decode error (the request body is not UTF-8 JSON text)"


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.detail == _FASTAPI_BAD_BODY:
        # FastAPI answers a body that is not even text with this 400, but a JSON syntax
        # error with a 422: one answer for both, saying what to fix.
        return error_response(422, "invalid_request", BAD_BODY)
    code = _CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("backend unavailable: %s: %s", type(exc).__name__, exc)
    return error_response(503, "unavailable", "the database or Redis is unavailable; retry")


async def _internal(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal", "internal error (logged)")


def install(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(Exception, _internal)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, malformed, unknown or revoked key"},
    422: {"model": ErrorBody, "description": "invalid request"},
    503: {"model": ErrorBody, "description": "database or Redis unavailable"},
}
