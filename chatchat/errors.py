"""Errors a user can act on. Each carries a message meant to be shown as it is (English), and may carry a
`key` with `params` under which the UI finds the message in every language (chatchat/ui/strings/common.py,
"error.<key>")."""

from __future__ import annotations


class ChatchatError(Exception):
    """Base class: the message says what went wrong and what to do about it."""

    code = "chatchat_error"
    status = 400

    def __init__(self, message: str, key: str | None = None, **params: object):
        super().__init__(message)
        self.message = message
        self.key = key
        self.params = params


class SettingsError(ChatchatError):
    code = "invalid_settings"


class CatalogError(ChatchatError):
    code = "invalid_catalog"


class NotFound(ChatchatError):
    code = "not_found"
    status = 404


class AlreadyExists(ChatchatError):
    code = "already_exists"
    status = 409


class InvalidName(ChatchatError):
    code = "invalid_name"


class UnsupportedFile(ChatchatError):
    code = "unsupported_file"
    status = 415


class ParseError(ChatchatError):
    code = "parse_error"
    status = 422


class FileTooLarge(ChatchatError):
    code = "file_too_large"
    status = 413


class ModelError(ChatchatError):
    code = "model_error"
    status = 400


class ProviderError(ChatchatError):
    code = "provider_error"
    status = 502


class Cancelled(ChatchatError):
    code = "cancelled"
    status = 499
