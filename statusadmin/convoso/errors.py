"""What can go wrong when talking to Convoso, as types that callers can act on.

Every error carries ``explanation``: one or two sentences a supervisor understands, shown in the
dashboard next to whatever caused it. Convoso's own code and text are kept for the audit log.
Nothing here ever includes the API token: messages are built only from fixed text and from what
Convoso replied, and the client removes any echo of the token from the latter first.
"""

from __future__ import annotations

from .status import FLAG_LABELS, FLAGS


class ConvosoError(Exception):
    """Base class. ``outcome`` is how the audit log classifies the attempt."""

    outcome = "failed"

    def __init__(
        self,
        explanation: str,
        *,
        endpoint: str = "",
        code: int | None = None,
        upstream_message: str = "",
    ) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.endpoint = endpoint
        self.code = code
        self.upstream_message = upstream_message


class ConvosoRejected(ConvosoError):
    """Convoso answered and refused the request (``"success": false``)."""

    outcome = "rejected"
    field: str | None = None


class ConvosoFieldError(ConvosoRejected):
    """A documented error code that belongs to one form field."""

    def __init__(self, explanation: str, *, field: str, **kwargs: object) -> None:
        super().__init__(explanation, **kwargs)  # type: ignore[arg-type]
        self.field = field


class StatusNotModifiable(ConvosoFieldError):
    """6069: a system status, or a code Convoso doesn't know, on update."""


class DuplicateStatus(ConvosoRejected):
    field = "code"


class StatusNotFound(ConvosoRejected):
    field = "code"


class TokenRejected(ConvosoRejected):
    """Convoso refused the API token (HTTP 401/403 or "Invalid authentication token")."""


class UnexpectedConvosoError(ConvosoRejected):
    """``success: false`` with a code or text the documentation doesn't list."""


class ConvosoUnavailable(ConvosoError):
    """No usable answer: timeout, refused connection, HTTP 5xx/429, a redirect (never
    followed), or a reply that isn't JSON.

    ``kind`` is one of ``timeout``, ``connection``, ``http_error``, ``malformed``, ``redirect``.
    ``may_have_applied`` is true when the request may have reached Convoso and been carried out
    even though no usable reply came back; the audit log records such writes as ``unknown``.
    ``summary`` says what happened; ``explanation`` adds what it means for the change.
    """

    def __init__(
        self, summary: str, *, kind: str, may_have_applied: bool = False, **kwargs: object
    ) -> None:
        explanation = summary
        if may_have_applied:
            explanation += " The change may or may not have been made."
        super().__init__(explanation, **kwargs)  # type: ignore[arg-type]
        self.summary = summary
        self.kind = kind
        self.may_have_applied = may_have_applied

    @property
    def outcome(self) -> str:  # type: ignore[override]
        return "unknown" if self.may_have_applied else "failed"


# --- the documented messages, per endpoint, with their plain-English explanations -------------

BAD_AUTH_TEXT = "Invalid authentication token"
NOT_FOUND_TEXT = "Status not found"
DUPLICATE_TEXT = "Status code already exists"

BAD_AUTH_EXPLANATION = (
    "Convoso did not accept the dashboard's API token, so nothing was changed. "
    "An administrator needs to check CONVOSO_AUTH_TOKEN."
)
NOT_FOUND_EXPLANATION = "Convoso has no status with this code. It may have been removed."
DUPLICATE_EXPLANATION = "A status with this code already exists in Convoso. Choose another code."


def _flag_explanation(flag: str, empty: bool) -> str:
    label = FLAG_LABELS[flag]
    if empty:
        return f"Convoso needs {label} set to Yes or No; it arrived empty, so nothing was changed."
    return f"Convoso needs {label} set to Yes or No."


# code -> (form field, Convoso's documented text, explanation). Codes mean different things on
# different endpoints, so each endpoint has its own table.
INSERT_CODES: dict[int, tuple[str, str, str]] = {
    6060: ("name", "Missing Status Description", "Give the status a name."),
    6061: (
        "code",
        "Missing or Invalid Status Abbreviation (alphanumeric, 2-6 chars)",
        "The code must be 2 to 6 letters or digits, with no spaces or symbols.",
    ),
    **{
        6062 + i: (
            flag,
            f"Missing or Invalid {FLAG_LABELS[flag]} option",
            _flag_explanation(flag, empty=False),
        )
        for i, flag in enumerate(FLAGS)
    },
    6078: (
        "color",
        "HEX color defined is invalid (do not include #)",
        "The colour must be six hexadecimal digits, like 00AA00.",
    ),
}

UPDATE_CODES: dict[int, tuple[str, str, str]] = {
    6069: (
        "code",
        "Missing or Invalid Status Abbreviation. Only custom statuses can be modified",
        "Only custom statuses can be changed. This one is a system status, "
        "or Convoso no longer has it.",
    ),
    **{
        6071 + i: (
            flag,
            f"{FLAG_LABELS[flag]} option cannot be set to empty",
            _flag_explanation(flag, empty=True),
        )
        for i, flag in enumerate(FLAGS)
    },
    6078: (
        "color",
        "HEX color defined is invalid",
        "The colour must be six hexadecimal digits, like 00AA00.",
    ),
}

CODES_BY_ENDPOINT: dict[str, dict[int, tuple[str, str, str]]] = {
    "insert": INSERT_CODES,
    "update": UPDATE_CODES,
    "search": {},
}
