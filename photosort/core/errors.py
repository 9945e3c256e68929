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
