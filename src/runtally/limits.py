"""Bounds of wire format v1, shared by validation (``events``) and the SDK (``tracking``).

Kept free of imports so the SDK can check values without loading pydantic.
"""

from __future__ import annotations

MAX_NAME = 100
MAX_IDENT = 128
MAX_TOKENS = 10**12
MAX_COST_USD = 1_000_000
MAX_ERROR_MESSAGE = 1000
MAX_TAGS = 20
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 256
MAX_METADATA_BYTES = 16 * 1024
PROJECT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
# Postgres text and jsonb cannot hold U+0000; it is refused on the wire, not at storage.
NUL = "\x00"
NUL_REASON = "contains a NUL character (U+0000), which cannot be stored"
