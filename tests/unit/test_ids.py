"""Hand-written UUIDv7 (runtally.ids): RFC 9562 layout, monotonic, unique, fork-safe."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

from runtally.ids import Uuid7, uuid7


def fixed_clock(values: list[int]) -> Callable[[], int]:
    it: Iterator[int] = iter(values)
    return lambda: next(it)


def counting_bytes() -> Callable[[int], bytes]:
    """Deterministic 'random' bytes: 0x00, 0x01, ... so every field can be predicted."""
    counter = itertools.count()
    return lambda n: bytes(next(counter) % 256 for _ in range(n))


def fields(value: int) -> tuple[int, int, int, int, int]:
    """(unix ms, version, rand_a, variant, rand_b) read back by the RFC 9562 layout."""
    return (value >> 80, value >> 76 & 0xF, value >> 64 & 0xFFF, value >> 62 & 0b11,
            value & (1 << 62) - 1)  # fmt: skip


def test_text_is_a_canonical_version_7_rfc_uuid_of_now() -> None:
    text = uuid7()
    parsed = uuid.UUID(text)
    assert str(parsed) == text
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    ms = parsed.int >> 80
    assert abs(ms - time.time() * 1000) < 5_000


def test_layout_follows_rfc_9562() -> None:
    gen = Uuid7(clock_ms=fixed_clock([0x0123_4567_89AB]), random_bytes=lambda n: b"\xff" * n)
    value = gen.next_int()
    ms, version, rand_a, variant, rand_b = fields(value)
    assert ms == 0x0123_4567_89AB
    assert version == 7
    assert variant == 0b10
    assert rand_a == 0x7FF  # counter seeded from the top 11 random bits
    assert rand_b == (1 << 62) - 1  # 62 random bits
    assert uuid.UUID(int=value).version == 7


def test_same_millisecond_counts_up_new_millisecond_reseeds() -> None:
    gen = Uuid7(clock_ms=fixed_clock([10, 10, 10, 11]), random_bytes=lambda n: b"\x00" * n)
    stamps = [fields(gen.next_int())[:3] for _ in range(4)]
    assert stamps == [(10, 7, 0), (10, 7, 1), (10, 7, 2), (11, 7, 0)]


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    gen = Uuid7(clock_ms=lambda: 50, random_bytes=lambda n: b"\xff" * n)
    values = [gen.next_int() for _ in range(0x1000 - 0x7FF + 2)]
    assert fields(values[0])[:3] == (50, 7, 0x7FF)
    assert fields(values[0xFFF - 0x7FF])[:3] == (50, 7, 0xFFF)
    assert fields(values[0x1000 - 0x7FF])[:3] == (51, 7, 0)
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_clock_stepping_back_keeps_ids_increasing() -> None:
    gen = Uuid7(clock_ms=fixed_clock([1000, 400, 400, 1001]), random_bytes=os.urandom)
    values = [gen.next_int() for _ in range(4)]
    assert values == sorted(values)
    assert [fields(v)[0] for v in values] == [1000, 1000, 1000, 1001]


def test_ids_of_one_process_are_strictly_increasing_and_unique() -> None:
    ids = [uuid7() for _ in range(50_000)]
    assert ids == sorted(ids)  # canonical lowercase hex sorts like the 128-bit value
    assert len(set(ids)) == len(ids)
    assert [uuid.UUID(i).int for i in ids] == sorted(uuid.UUID(i).int for i in ids)


def test_threads_never_share_an_id() -> None:
    gen = Uuid7()
    out: list[list[int]] = [[] for _ in range(4)]

    def work(slot: list[int]) -> None:
        slot.extend(gen.next_int() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(slot,)) for slot in out]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [v for slot in out for v in slot]
    assert len(set(every)) == len(every) == 20_000
    for slot in out:  # each thread sees increasing values
        assert slot == sorted(slot)


def test_random_bits_come_from_the_source_and_forget_drops_the_pool() -> None:
    calls: list[int] = []
    source = counting_bytes()

    def random_bytes(n: int) -> bytes:
        calls.append(n)
        return source(n)

    gen = Uuid7(clock_ms=lambda: 7, random_bytes=random_bytes)
    first = gen.next_int()
    assert len(calls) == 1  # one pooled draw serves the counter seed and rand_b
    assert fields(first)[4] == int.from_bytes(bytes(range(8, 16)), "big") >> 2
    gen.forget()
    gen.next_int()
    assert len(calls) == 2


def test_forked_child_does_not_repeat_the_parents_random_bits() -> None:
    uuid7()  # fill the pool in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        os.write(write, uuid7().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = uuid7()
    assert child[-17:] != parent[-17:]  # rand_b differs
