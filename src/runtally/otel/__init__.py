"""OpenTelemetry intake: OTLP/HTTP trace requests become run events on the stream.

The path of a request: ``decode`` (body → OTLP message) → ``spans`` (message → one
``Node`` per span, the facts runtally needs) → ``staging`` (nodes held per trace in
Redis) → ``tree`` (a decided trace → runs) → ``runevent`` (run → wire-format v1 JSON)
→ the same stream publishers use. ``intake`` drives one request; ``sweep`` decides
traces whose time has come. ``vocab`` and ``attributes`` read the three vocabularies
(OTel GenAI, OpenInference, OpenLLMetry); everything but staging and sweep is pure.
"""
