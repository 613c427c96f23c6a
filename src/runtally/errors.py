"""Errors meant for the user: the CLI prints their message on one line and exits."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad argument, server unreachable, missing binary)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
