"""Typed errors the front ends turn into one readable message each."""

from __future__ import annotations


class PhotoSortError(Exception):
    """Base class: its message is meant for the user, as is."""


class DecodeError(PhotoSortError):
    """A file could not be turned into pixels; the message is the reason shown to the user."""


class ModelError(PhotoSortError):
    """A model is unknown, its manifest is invalid or its ONNX file is missing or corrupt."""


class StoreError(PhotoSortError):
    """The database cannot be opened or used."""


class ExportError(PhotoSortError):
    """An export cannot start or had to stop."""


class Cancelled(PhotoSortError):
    """A job stopped because its cancel token was set."""

    def __init__(self, message: str = "Cancelled") -> None:
        super().__init__(message)


#: Where the system's own words mislead: "File exists" for a target that is a file, say.
_PLAIN_REASONS = {
    "EEXIST": "a file with that name is in the way",
    "ENOTDIR": "part of the path is a file, not a folder",
    "EISDIR": "it is a folder",
}


def plain_reason(exc: OSError) -> str:
    """Why an operating-system call failed, in words ("Permission denied", "Read-only file
    system"), without Python's `[Errno N]` prefix or the repeated file name."""
    import errno

    name = errno.errorcode.get(exc.errno or -1, "")
    if name in _PLAIN_REASONS:
        return _PLAIN_REASONS[name]
    return exc.strerror or exc.__class__.__name__


def describe(exc: BaseException) -> str:
    """An unexpected exception in words for a message: a disk problem as plain words with its
    file (never `[Errno N] ...`), anything else as its type and text."""
    if isinstance(exc, OSError):
        import os

        where = f": {os.fsdecode(exc.filename)}" if exc.filename else ""
        return f"{plain_reason(exc)}{where}"
    return f"{exc.__class__.__name__}: {exc}"
