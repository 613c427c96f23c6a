"""The run-event stream: its entries, the ``Stream`` protocol, on Redis and in memory."""

from __future__ import annotations

from runtally.stream.entries import DeadLetter, Entry, dead_fields, id_key, next_id
from runtally.stream.memory import MemoryLog, MemoryStream
from runtally.stream.protocol import Stream
from runtally.stream.redis_stream import EventStream

__all__ = [
    "DeadLetter",
    "Entry",
    "EventStream",
    "MemoryLog",
    "MemoryStream",
    "Stream",
    "dead_fields",
    "id_key",
    "next_id",
]
