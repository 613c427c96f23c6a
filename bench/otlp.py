"""OTLP intake: spans per second one ``runtally api`` process accepts on ``POST /v1/traces``.

Requests are what an OTel SDK's batch processor sends: 504 spans each (84 traces of six
spans: an HTTP root, an ``invoke_agent`` span, a tool span and three ``chat`` spans with
usage), protobuf, prebuilt, posted by 4 concurrent clients on the same machine (they
share its 2 cores with the API and Redis). A span counts as accepted when its request got
200, i.e. it is staged in Redis or already published as part of a run. With the default
settle time the API's sweeper then decides each trace and publishes one run per agent span.
The limit is the same bodies decoded and turned into nodes in one process (no HTTP, no
Redis): the pure-Python ceiling of the request path.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span

from bench import procs
from bench.harness import BenchContext, Figure, Limit, Stack, private_stack
from runtally.devstack.servers import free_port, wait_port
from runtally.otel import decode, spans

NAME = "otlp"
TITLE = "OTLP trace intake (POST /v1/traces)"
TRACES_PER_REQUEST = 84
SPANS_PER_TRACE = 6
CLIENTS = 4
DRAIN_BUDGET_S = 120.0


def _kv(key: str, value: str | int) -> KeyValue:
    any_value = (
        AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
    )
    return KeyValue(key=key, value=any_value)


def _chat(n: int) -> list[KeyValue]:
    return [
        _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.request.model", "gpt-4o"),
        _kv("gen_ai.usage.input_tokens", 1000 + n), _kv("gen_ai.usage.output_tokens", 50 + n),
    ]  # fmt: skip


def _trace(trace: int, start_ns: int) -> list[Span]:
    """Six spans of one trace, children first as exporters send them."""
    attrs = {
        1: [_kv("http.request.method", "POST")],
        2: [_kv("gen_ai.operation.name", "invoke_agent"), _kv("gen_ai.agent.name", "bench")],
        3: [_kv("gen_ai.operation.name", "execute_tool")],
        4: _chat(1), 5: _chat(2), 6: _chat(3),
    }  # fmt: skip
    parents = {1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 6: 2}
    return [
        Span(
            trace_id=trace.to_bytes(16, "big"), span_id=sid.to_bytes(8, "big"),
            parent_span_id=parents[sid].to_bytes(8, "big") if parents[sid] else b"",
            name=f"span {sid}", start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + 10**9,
            attributes=attrs[sid],
        )
        for sid in (6, 5, 4, 3, 2, 1)
    ]  # fmt: skip


def bodies(count: int) -> list[bytes]:
    """``count`` protobuf request bodies with distinct trace ids."""
    start_ns = time.time_ns() - 60 * 10**9
    out = []
    for r in range(count):
        rs = ResourceSpans()
        rs.resource.attributes.append(_kv("service.name", "bench-svc"))
        scope = rs.scope_spans.add()
        for t in range(TRACES_PER_REQUEST):
            scope.spans.extend(_trace(r * TRACES_PER_REQUEST + t + 1, start_ns))
        out.append(ExportTraceServiceRequest(resource_spans=[rs]).SerializeToString())
    return out


def run(ctx: BenchContext) -> None:
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack))


async def _run(ctx: BenchContext, stack: Stack) -> None:
    from bench.api import _create_key

    key = await _create_key(stack)
    payloads = bodies(ctx.size(400, 60))
    limit = _parse_rate(payloads)
    port = free_port()
    with procs.running(stack, ["api", "--host", "127.0.0.1", "--port", str(port)]):
        wait_port(port, 30)
        await _post_all(f"http://127.0.0.1:{port}", key, payloads[:4])  # warm-up
        elapsed = await _post_all(f"http://127.0.0.1:{port}", key, payloads[4:])
        drained, runs = await _drain(stack)
    n_spans = (len(payloads) - 4) * TRACES_PER_REQUEST * SPANS_PER_TRACE
    ctx.record(
        Figure(NAME, "spans accepted per second (one API process)", n_spans / elapsed, "spans/s",
               limit=Limit("decode + span→node in-process, one core", limit, "spans/s"))
    )  # fmt: skip
    ctx.record(Figure(NAME, "504-span requests per second", (len(payloads) - 4) / elapsed, "req/s"))
    ctx.note(
        NAME,
        f"{n_spans:,} spans in {len(payloads) - 4} requests from {CLIENTS} concurrent clients in "
        f"{elapsed:.1f} s; then every trace was decided by the sweeper in {drained:.1f} s more "
        f"(settle time 2 s): {runs:,} runs published for "
        f"{len(payloads) * TRACES_PER_REQUEST:,} agent spans.",
    )


def _parse_rate(payloads: list[bytes]) -> float:
    began = time.perf_counter()
    count = 0
    for body in payloads:
        _, request = decode.decode(body, decode.PROTOBUF, None, 1 << 26)
        count += spans.parse(request).accepted
    return count / (time.perf_counter() - began)


async def _post_all(url: str, key: str, payloads: list[bytes]) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in payloads:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": decode.PROTOBUF}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:

        async def sender() -> None:
            while not queue.empty():
                response = await client.post("/v1/traces", content=queue.get_nowait())
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(CLIENTS)))
        return time.perf_counter() - began


async def _drain(stack: Stack) -> tuple[float, int]:
    """Seconds until no trace is left to decide, and the runs on the stream."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(stack.settings.redis_url)
    began = time.perf_counter()
    try:
        while await client.zcard(stack.settings.otel_due_key):
            if time.perf_counter() - began > DRAIN_BUDGET_S:
                break
            await asyncio.sleep(0.1)
        return time.perf_counter() - began, int(await client.xlen(stack.settings.stream))
    finally:
        await client.aclose()
