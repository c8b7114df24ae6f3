"""The one error a malformed chat request raises while the sim reads it."""

from __future__ import annotations

__all__ = ["BadRequestError"]


class BadRequestError(Exception):
    """The caller's request is malformed; becomes a 400 with this message."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
