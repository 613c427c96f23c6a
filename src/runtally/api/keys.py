"""API keys: create, list, revoke, verify. Keys are scoped to one project.

A key reads ``rt_<token_urlsafe(32)>``; only its SHA-256 (hex) is stored, with a short
``prefix`` (``rt_`` plus 8 characters) so a listing can name a key without revealing it.
Verification is one indexed lookup on the hash; a revoked key stops working at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from runtally.errors import UserError
from runtally.store.protocols import Connection, Record

KEY_PREFIX = "rt_"
PREFIX_LEN = len(KEY_PREFIX) + 8
KEY_PATTERN = re.compile(r"^rt_[A-Za-z0-9_-]{43}$")
PROJECT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_NAME = 200


@dataclass(frozen=True)
class KeyInfo:
    """A stored key, without the secret."""

    id: int
    project: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def well_formed(key: str) -> bool:
    """Whether ``key`` has the shape of a runtally key (checked before any lookup)."""
    return KEY_PATTERN.match(key) is not None


_COLUMNS = "id, project, name, prefix, created_at, revoked_at"


def _info(row: Record) -> KeyInfo:
    return KeyInfo(**{name: row[name] for name in KeyInfo.__dataclass_fields__})


async def create_key(conn: Connection, project: str, name: str = "") -> tuple[KeyInfo, str]:
    """Store a new key for ``project``; returns its info and the key (shown only once)."""
    if not PROJECT_PATTERN.match(project):
        raise UserError(f"invalid project {project!r}: use 1-64 characters [A-Za-z0-9_.-]")
    if len(name) > MAX_NAME or "\x00" in name:
        raise UserError(f"invalid key name: at most {MAX_NAME} characters, no NUL")
    key = generate_key()
    (row,) = await conn.fetch(
        f"INSERT INTO api_keys (project, name, prefix, key_hash) VALUES ($1, $2, $3, $4)"
        f" RETURNING {_COLUMNS}",
        project,
        name,
        key[:PREFIX_LEN],
        hash_key(key),
    )
    return _info(row), key


async def list_keys(conn: Connection, project: str | None = None) -> list[KeyInfo]:
    """All keys (or one project's), oldest first, revoked ones included."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM api_keys WHERE $1::text IS NULL OR project = $1 ORDER BY id",
        project,
    )
    return [_info(row) for row in rows]


async def revoke_key(conn: Connection, ref: str) -> KeyInfo:
    """Revoke the key whose id or prefix is ``ref``; ``UserError`` if none or several match.

    Revoking an already revoked key keeps its first revocation time.
    """
    arg: int | str = ref
    where = "prefix = $1::text"
    if re.fullmatch(r"[0-9]{1,18}", ref):
        where, arg = "id = $1::bigint", int(ref)
    matches = await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys WHERE {where}", arg)
    if not matches:
        raise UserError(f"no API key with id or prefix {ref!r}")
    if len(matches) > 1:
        raise UserError(f"prefix {ref!r} matches {len(matches)} keys; revoke by id")
    (row,) = await conn.fetch(
        f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1"
        f" RETURNING {_COLUMNS}",
        matches[0]["id"],
    )
    return _info(row)


async def verify_key(conn: Connection, key: str) -> str | None:
    """The project of a valid, unrevoked ``key``; ``None`` otherwise."""
    if not well_formed(key):
        return None
    project: str | None = await conn.fetchval(
        "SELECT project FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key)
    )
    return project
