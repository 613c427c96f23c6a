"""Spans held per trace in Redis until their trace is decided, then published as runs.

A staged trace is one hash ``<otel_trace_prefix><project>:<trace id>``: field = span id,
value = the node's JSON, or ``-`` once an agent or LLM span was decided (the tombstone
makes a re-exported span a no-op); ``_v`` is the trace's version, a fresh number from
the counter ``otel_version_key`` at every change (never reused, even after the hash is
deleted), ``_root`` marks that the root span arrived and ``_d`` counts tombstones. The
sorted set ``otel_due_key`` says when each trace is decided: its root's arrival plus
``otel_settle_s``, or its last new span plus ``otel_trace_timeout_s``. A hash expires
``otel_trace_ttl_s`` after its last change.

Deciding reads the hash, computes the runs (``tree``), then one script checks that
``_v`` did not move, tombstones the decided agent and LLM spans, drops the other spans
(they never make a run; re-exported, they are staged and decided again to no effect),
XADDs the events to the stream and drops the trace from the due set — atomically, so a
trace is published once even when several API processes decide it at the same time,
and a crash publishes all or nothing. A trace left with no tombstone is deleted, so
traffic without agent or LLM spans costs nothing once decided.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from runtally.config import Settings
from runtally.otel import runevent, tree
from runtally.otel.model import Node, decode_node, encode_node

log = logging.getLogger("runtally.otel")

DECIDED = b"-"
VERSION = b"_v"
ROOT = b"_root"
WAITAOF_TIMEOUT_MS = 1000

# KEYS: trace hash, due set, version counter. ARGV: now, timeout, settle, ttl, has root
# (1/0), then span id / node pairs. Returns {new spans, root arrived (0/1)}.
STAGE = """
local added = 0
for i = 6, #ARGV, 2 do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[5] == '1' then redis.call('HSETNX', KEYS[1], '_root', '1') end
local rooted = redis.call('HEXISTS', KEYS[1], '_root')
redis.call('EXPIRE', KEYS[1], ARGV[4])
if added == 0 then return {0, rooted} end
redis.call('HSET', KEYS[1], '_v', redis.call('INCR', KEYS[3]))
local wait = ARGV[2]
if rooted == 1 then wait = ARGV[3] end
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(wait), KEYS[1])
return {added, rooted}
"""

# KEYS: trace hash, due set, stream, version counter. ARGV: version read, ttl, number of
# agent/LLM span ids, number of other span ids, those ids, then the events' JSON.
# Returns the events published, or -1 when the trace changed since it was read (nothing
# is done then). A trace that is gone (expired) only leaves the due set.
COMMIT = """
local version = redis.call('HGET', KEYS[1], '_v')
if not version then
  redis.call('ZREM', KEYS[2], KEYS[1])
  return 0
end
if version ~= ARGV[1] then return -1 end
local g = tonumber(ARGV[3])
local p = tonumber(ARGV[4])
for i = 5, 4 + g do redis.call('HSET', KEYS[1], ARGV[i], '-') end
for i = 5 + g, 4 + g + p do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 5 + g + p, #ARGV do redis.call('XADD', KEYS[3], '*', 'data', ARGV[i]) end
redis.call('ZREM', KEYS[2], KEYS[1])
if redis.call('HINCRBY', KEYS[1], '_d', g) == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], '_v', redis.call('INCR', KEYS[4]))
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return #ARGV - 4 - g - p
"""


def live_nodes(fields: Mapping[bytes, bytes]) -> dict[str, Node]:
    """The undecided nodes of a staged hash, by span id."""
    return {
        key.decode(): decode_node(value)
        for key, value in fields.items()
        if not key.startswith(b"_") and value != DECIDED
    }


class Staging:
    """The staged traces in one Redis (``client`` with ``decode_responses=False``)."""

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._stage = client.register_script(STAGE)
        self._commit = client.register_script(COMMIT)
        self._waitaof = True  # until Redis says it cannot (older than 7.2, or no AOF)

    def key(self, project: str, trace_id: str) -> str:
        return f"{self.settings.otel_trace_prefix}{project}:{trace_id}"

    async def stage(
        self, project: str, traces: Mapping[str, Sequence[Node]], now: float
    ) -> list[str]:
        """Hold ``traces``' nodes; the keys of traces whose root is in (to decide now)."""
        s = self.settings
        keys = [self.key(project, trace_id) for trace_id in traces]
        pipe = self.client.pipeline(transaction=False)
        for key, nodes in zip(keys, traces.values(), strict=True):
            args: list[str | float] = [now, s.otel_trace_timeout_s, s.otel_settle_s]
            args += [s.otel_trace_ttl_s, int(any(n.is_root for n in nodes))]
            for node in nodes:
                args += [node.span_id, encode_node(node)]
            keys_of = [key, s.otel_due_key, s.otel_version_key]
            await self._stage(keys=keys_of, args=args, client=pipe)
        replies = await self._execute(pipe)
        return [key for key, (added, rooted) in zip(keys, replies, strict=True) if added and rooted]

    async def decide(self, keys: Sequence[str]) -> int:
        """Publish the runs of the undecided spans of traces ``keys``; the events published.

        Two round trips whatever the number of traces: one reads them all, one commits
        them all (each commit atomic on its own). A trace that changed since it was read
        is left alone: it is still due and is decided again later.
        """
        if not keys:
            return 0
        read = self.client.pipeline(transaction=False)
        for key in keys:
            read.hgetall(key)
        contents = await read.execute()
        commit = self.client.pipeline(transaction=False)
        for key, fields in zip(keys, contents, strict=True):
            await self._commit(
                keys=self._commit_keys(key), args=self._commit_args(key, fields), client=commit
            )
        return sum(max(int(n), 0) for n in await self._execute(commit))

    def _commit_keys(self, key: str) -> list[str]:
        s = self.settings
        return [key, s.otel_due_key, s.stream, s.otel_version_key]

    def _commit_args(self, key: str, fields: Mapping[bytes, bytes]) -> list[str | int | bytes]:
        """COMMIT's arguments: the version read, the decided span ids, the run events."""
        ttl = self.settings.otel_trace_ttl_s
        if VERSION not in fields:  # expired, or never staged
            return [b"", ttl, 0, 0]
        nodes = live_nodes(fields)
        project, trace_id = key[len(self.settings.otel_trace_prefix) :].rsplit(":", 1)
        events = [runevent.wire(run, project, trace_id) for run in tree.runs(nodes)]
        genai = [span_id for span_id, node in nodes.items() if node.kind]
        plain = [span_id for span_id, node in nodes.items() if not node.kind]
        return [fields[VERSION], ttl, len(genai), len(plain), *genai, *plain, *events]

    async def due(self, now: float, limit: int) -> list[str]:
        """Keys of traces whose decision time has come, oldest first."""
        keys = await self.client.zrangebyscore(
            self.settings.otel_due_key, "-inf", now, start=0, num=limit
        )
        return [k.decode() for k in keys]

    async def _execute(self, pipe: aioredis.client.Pipeline) -> list[Any]:
        """Run ``pipe``, then wait until its writes are fsynced to the AOF.

        ``WAITAOF`` (Redis >= 7.2) goes on the same connection as the writes. A Redis
        without the command or without AOF keeps its own durability (see README).
        """
        wait = self._waitaof  # read once: a concurrent call may turn it off meanwhile
        if wait:
            pipe.execute_command("WAITAOF", 1, 0, WAITAOF_TIMEOUT_MS)
        replies = await pipe.execute(raise_on_error=False)
        if wait:
            waited = replies.pop()
            if isinstance(waited, ResponseError):
                self._waitaof = False
                log.info("not waiting for AOF fsync (%s); Redis's own durability applies", waited)
            elif not waited or int(waited[0]) < 1:  # not fsynced in time: not acknowledged
                raise RedisTimeoutError(f"AOF fsync not confirmed within {WAITAOF_TIMEOUT_MS} ms")
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return list(replies)
