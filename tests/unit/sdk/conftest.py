"""Fixtures of the SDK unit tests: fakeredis stands in for Redis (the sender only runs a
script; no blocking reads); ``FakeServer.connected = False`` emulates Redis unreachable."""

from __future__ import annotations

import fakeredis
import pytest

from tests.unit.sdk.support import ListSink


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis(server=server)


@pytest.fixture
def sink() -> ListSink:
    return ListSink()
