"""``POST /v1/traces``: OTLP/HTTP trace intake (protobuf or JSON, gzip or deflate).

Authenticated like every /v1 route. Answers: 200 (with ``partial_success`` when some
spans were rejected) only once the request's spans are in Redis; 400 for a body that
does not decode, 401 for a missing or bad key, 413 past the size cap (after
decompression), 415 for another content type or encoding, 503 with ``Retry-After``
while Redis (or Postgres, for the key) is unreachable, so exporters retry.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from runtally.api.deps import Resources, bearer, get_resources, presented_key, project_of
from runtally.api.errors import ERROR_RESPONSES, ApiError, error_response
from runtally.api.params import refuse_undeclared
from runtally.api.schemas import ErrorBody
from runtally.config import Settings
from runtally.otel import decode, intake
from runtally.otel.staging import Staging
from runtally.otel.sweep import Sweeper
from runtally.store.protocols import Pool

router = APIRouter(tags=["intake"])

_CODES = {400: "bad_request", 413: "too_large", 415: "unsupported_media_type"}
# A compressed body is never much larger than what it inflates to; this much slack
# covers the gzip framing of a body just under the cap.
_WIRE_SLACK = 64 * 1024
_POSTGRES_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


@asynccontextmanager
async def intake_lifespan(app: FastAPI, settings: Settings, redis: Redis) -> AsyncIterator[None]:
    """The staging of this app and its sweeper, running while the app runs."""
    staging = Staging(redis, settings)
    app.state.otel_staging = staging
    sweeper = Sweeper(staging, settings.otel_sweep_interval_s)
    sweeper.start()
    try:
        yield
    finally:
        await sweeper.stop(settings.shutdown_grace_s)


def unavailable(settings: Settings, what: str) -> JSONResponse:
    return error_response(
        503, "unavailable", f"{what} is unavailable; retry",
        **{"Retry-After": str(settings.otel_retry_after_s)},
    )  # fmt: skip


async def key_project(pool: Pool, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The project of the request's bearer key, or a 401 ``ApiError``."""
    key = presented_key(credentials)
    async with pool.acquire() as conn:
        return await project_of(conn, key)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) one far past the cap before reading all of it."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + _WIRE_SLACK:
            raise ApiError(413, f"body is larger than {limit} bytes", _CODES[413])
        chunks.append(chunk)
    return b"".join(chunks)


def answer(media_type: str, outcome: intake.Outcome) -> Response:
    message = outcome.response()
    if media_type == decode.JSON:
        return JSONResponse(json_format.MessageToDict(message))
    return Response(message.SerializeToString(), media_type=decode.PROTOBUF)


_BODY = {"type": "string", "format": "binary"}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {
        "description": "ExportTraceServiceResponse, in the request's encoding",
        "content": {
            decode.PROTOBUF: {"schema": _BODY},
            decode.JSON: {"schema": {"type": "object"}},
        },
    },
    400: {"model": ErrorBody, "description": "body does not decode"},
    413: {"model": ErrorBody, "description": "body too large after decompression"},
    415: {"model": ErrorBody, "description": "unsupported content type or encoding"},
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            decode.PROTOBUF: {"schema": _BODY},
            decode.JSON: {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace intake",
    responses=_RESPONSES,
    openapi_extra=_REQUEST_BODY,
)
async def export_traces(
    request: Request,
    resources: Annotated[Resources, Depends(get_resources)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Turn OTel GenAI / OpenInference / OpenLLMetry spans into run events (see README)."""
    settings: Settings = request.app.state.settings
    try:
        project = await key_project(resources.pool, credentials)
    except _POSTGRES_DOWN:
        return unavailable(settings, "the database")
    refuse_undeclared(request)  # OTLP declares no query parameters: a typo is an error
    headers = request.headers
    try:
        decode.media_type(headers.get("content-type"))
        body = await read_body(request, settings.otel_max_body_bytes)
        kind, message = decode.decode(
            body, headers.get("content-type"), headers.get("content-encoding"),
            settings.otel_max_body_bytes,
        )  # fmt: skip
    except decode.BodyError as exc:
        raise ApiError(exc.status, exc.message, _CODES[exc.status]) from None
    try:
        outcome = await intake.accept(request.app.state.otel_staging, project, message, time.time())
    except (RedisConnectionError, RedisTimeoutError, OSError):
        return unavailable(settings, "Redis")
    return answer(kind, outcome)
