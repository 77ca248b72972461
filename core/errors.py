"""One error hierarchy for the whole code base.

Domain code raises these; only ``api/`` knows how they map to HTTP statuses. Each error carries a
stable machine-readable ``code`` so clients can branch without parsing the human message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the service expects and reports to its caller."""

    code: str = "error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class Invalid(DomainError):
    """The input is well-formed JSON but breaks a rule of the domain."""

    code = "invalid"


class NotFound(DomainError):
    """The thing does not exist, or exists but the caller may not know that it does."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (a taken space, a duplicate plate)."""

    code = "conflict"


class Unauthenticated(DomainError):
    """No credential, or one we do not recognise."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this, and existence is not a secret."""

    code = "forbidden"


class Unavailable(DomainError):
    """A backing service (database) cannot be reached; the caller should retry."""

    code = "unavailable"
