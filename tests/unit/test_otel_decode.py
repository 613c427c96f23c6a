"""OTLP/HTTP bodies: protobuf and JSON, gzip and deflate, the size cap, every refusal."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest
from google.protobuf import json_format

from runtally.otel.decode import JSON, PROTOBUF, BodyError, decode
from tests.otel_support import make_request, make_span

LIMIT = 64 * 1024
REQUEST = make_request(
    [
        make_span(
            0xABC, 0x12, 0x11, {"gen_ai.usage.input_tokens": 2**40, "gen_ai.operation.name": "chat"}
        )
    ]
)


def otlp_json() -> dict[str, Any]:
    """The request as OTLP/JSON writes it: hex ids, int64 as strings, camelCase."""
    return {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeSpans": [{
                "someFutureField": {"x": 1},
                "spans": [{
                    "traceId": f"{0xABC:032x}", "spanId": f"{0x12:016x}",
                    "parentSpanId": f"{0x11:016x}", "name": "span",
                    "startTimeUnixNano": "1764547200000000000",
                    "endTimeUnixNano": "1764547201500000000",
                    "attributes": [
                        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(2**40)}},
                        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                    ],
                    "unknownField": {"x": 1},
                }],
            }],
        }]
    }  # fmt: skip


def test_protobuf_body() -> None:
    kind, request = decode(REQUEST.SerializeToString(), PROTOBUF, None, LIMIT)
    assert (kind, request) == (PROTOBUF, REQUEST)


def test_json_body_with_hex_ids_string_int64_and_unknown_fields() -> None:
    body = json.dumps(otlp_json()).encode()
    kind, request = decode(body, "application/json; charset=utf-8", None, LIMIT)
    assert kind == JSON
    assert request == REQUEST


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, no zlib wrapper
        ("identity", lambda b: b),
        (None, lambda b: b),
    ],
)
def test_encodings(encoding: str | None, compress: Any) -> None:
    body = compress(REQUEST.SerializeToString())
    assert decode(body, PROTOBUF, encoding, LIMIT)[1] == REQUEST


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "status", "says"),
    [
        (b"x", "text/plain", None, 415, "content type"),
        (b"x", None, None, 415, "content type"),
        (b"x", PROTOBUF, "br", 415, "content encoding"),
        (b"\xff\xff\xff", PROTOBUF, None, 400, "protobuf"),
        (b"{not json", JSON, None, 400, "not JSON"),
        (b"[1, 2]", JSON, None, 400, "not a JSON object"),
        (b'{"resourceSpans": 5}', JSON, None, 400, "OTLP/JSON"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(),
         JSON, None, 400, "traceId is not hex"),
        (b"not gzip", PROTOBUF, "gzip", 400, "gzip"),
        (b"not deflate", PROTOBUF, "deflate", 400, "deflate"),
        (gzip.compress(b"\x00" * 100)[:-8], PROTOBUF, "gzip", 400, "truncated"),
        (b"\x00" * (LIMIT + 1), PROTOBUF, None, 413, "larger than"),
        (gzip.compress(b"\x00" * (LIMIT + 1)), PROTOBUF, "gzip", 413, "after decompression"),
        (zlib.compress(b" " * (10 * LIMIT)), JSON, "deflate", 413, "after decompression"),
    ],
)  # fmt: skip
def test_refusals(
    body: bytes, content_type: str | None, encoding: str | None, status: int, says: str
) -> None:
    with pytest.raises(BodyError) as caught:
        decode(body, content_type, encoding, LIMIT)
    assert caught.value.status == status
    assert says in caught.value.message


def test_json_round_trip_of_the_sdk_mapping() -> None:
    """What protobuf's own JSON printer writes (base64 ids) is not OTLP/JSON: refused."""
    printed = json_format.MessageToJson(REQUEST)
    with pytest.raises(BodyError) as caught:
        decode(printed.encode(), JSON, None, LIMIT)
    assert caught.value.status == 400
