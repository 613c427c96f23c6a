"""Errors meant for the user: the CLI prints their message on one line and exits."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class UserError(Exception):
    """A problem the user can fix (bad argument, server unreachable, missing binary)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
