"""An OTLP/HTTP request body → ``ExportTraceServiceRequest`` (pure).

Content types ``application/x-protobuf`` and ``application/json`` (OTLP/JSON: trace and
span ids as hex, 64-bit integers possibly as strings, unknown fields ignored); content
encodings ``gzip``, ``deflate`` and ``identity``. The size cap applies to the body
after decompression, which is done in bounded steps so a small bomb is never inflated
past the cap. Every failure raises ``BodyError`` with the HTTP status and a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyError(Exception):
    """A body that cannot be read: ``status`` is 400, 413 or 415."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, or ``BodyError(415)``."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise BodyError(
            415, f"unsupported content type {kind or 'none'!r}: use {PROTOBUF} or {JSON}"
        )
    return kind


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    data = inflater.decompress(body, limit + 1)
    if len(data) > limit:
        raise BodyError(413, f"body is larger than {limit} bytes after decompression")
    if not inflater.eof:
        raise BodyError(400, "compressed body is truncated")
    return data


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """``body`` decoded from ``encoding``, at most ``limit`` bytes, else ``BodyError``."""
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        if len(body) > limit:
            raise BodyError(413, f"body is larger than {limit} bytes")
        return body
    if name not in _WBITS:
        raise BodyError(415, f"unsupported content encoding {name!r}: use gzip or deflate")
    try:
        return _inflate(body, _WBITS[name], limit)
    except zlib.error as exc:
        if name != "deflate":
            raise BodyError(400, f"body is not valid {name}: {exc}") from None
    try:  # some clients send raw deflate without the zlib wrapper
        return _inflate(body, -zlib.MAX_WBITS, limit)
    except zlib.error as exc:
        raise BodyError(400, f"body is not valid deflate: {exc}") from None


def _hex_to_base64(holder: dict[str, Any], where: str) -> None:
    for key in ID_FIELDS:
        text = holder.get(key)
        if not isinstance(text, str) or not text:
            continue
        try:
            holder[key] = base64.b64encode(bytes.fromhex(text)).decode()
        except ValueError:
            raise BodyError(400, f"{where}.{key} is not hex: {text[:40]!r}") from None


def _ids_to_base64(data: Any) -> None:
    """OTLP/JSON ids are hex; protobuf's JSON mapping wants base64 for bytes fields."""
    for r, resource in enumerate(_items(data, "resourceSpans")):
        for s, scope in enumerate(_items(resource, "scopeSpans")):
            for n, span in enumerate(_items(scope, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                _hex_to_base64(span, where)
                for k, link in enumerate(_items(span, "links")):
                    _hex_to_base64(link, f"{where}.links[{k}]")


def _items(holder: Any, key: str) -> list[Any]:
    items = holder.get(key) if isinstance(holder, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def from_json(data: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(400, f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BodyError(400, "body is not a JSON object")
    _ids_to_base64(document)
    try:
        return json_format.ParseDict(
            document, ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
        raise BodyError(400, f"body is not an OTLP/JSON trace request: {exc}") from None


def from_protobuf(data: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except DecodeError as exc:
        raise BodyError(400, f"body is not an OTLP protobuf trace request: {exc}") from None
    return request


def decode(
    body: bytes, content_type: str | None, encoding: str | None, limit: int
) -> tuple[str, ExportTraceServiceRequest]:
    """(media type, request) of an OTLP/HTTP trace request; ``BodyError`` if unreadable."""
    kind = media_type(content_type)
    data = decompress(body, encoding, limit)
    return kind, (from_json(data) if kind == JSON else from_protobuf(data))
