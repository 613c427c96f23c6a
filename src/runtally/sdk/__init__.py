"""The publisher SDK: what agent code imports to count its runs (``runtally`` re-exports it).

One concept per module, in the order an event travels:

- ``track`` / ``run`` / ``checks`` / ``defaults``: ``track()`` times a run, ``Run`` collects
  usage and ids (checked cheaply by ``checks``) and builds the wire JSON; ``defaults`` holds
  the publisher ``track()`` uses when none is given (``configure``).
- ``encoding``: any event (``RunEvent``, dict, wire JSON) to wire JSON.
- ``options``: ``PublisherOptions``, every knob of a publisher in one frozen value.
- ``buffer``: the bounded buffer and its block/drop policy; pure, the clock injected.
- ``batches``: the Lua batch script and its per-batch markers (exactly once on retry).
- ``sender``: the background task that sends batches and retries with backoff.
- ``notices``: drops counted and logged (``PublishError`` if asked), pressure warnings.
- ``publisher``: ``Publisher`` (asyncio), tying buffer and sender together.
- ``sync``: ``SyncPublisher``, a ``Publisher`` on its own loop for synchronous code.
"""
