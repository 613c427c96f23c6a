"""SyncPublisher: uses the Publisher's public methods only, and applies its policy."""

from __future__ import annotations

import ast
import inspect

import fakeredis

from runtally.sdk import sync
from runtally.sdk.options import PublisherOptions
from runtally.sdk.sync import SyncPublisher
from tests.unit.sdk.support import event_dict


def test_uses_only_public_methods_of_the_publisher() -> None:
    private = [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(ast.parse(inspect.getsource(sync)))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]
    assert private == []


def test_drop_policy_from_a_thread(server: fakeredis.FakeServer) -> None:
    server.connected = False
    client = fakeredis.FakeAsyncRedis(server=server)
    options = PublisherOptions(max_buffer=2, on_full="drop", backoff_initial_s=0.005)
    publisher = SyncPublisher(client, options)
    try:
        assert [publisher.publish(event_dict(i)) for i in range(3)] == [True, True, False]
        assert (publisher.dropped, publisher.buffered, publisher.pressure) == (1, 2, 1.0)
    finally:
        publisher.close(timeout=0.05)
    assert publisher.dropped == 3  # the two undelivered at close are counted too
    assert publisher.stats()["published"] == 0
