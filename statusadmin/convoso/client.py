"""The one module that talks to Convoso's Status API.

It knows nothing of Django models or views: it turns Python values into form-encoded POSTs and
Convoso's JSON back into ``Status`` values or typed errors (``errors.py``). The sandbox mode swaps
only the transport underneath (``sandbox.SandboxAdapter``); every other line runs the same.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from . import errors
from .status import FLAGS, Status
from .validation import clean_changes, clean_code, clean_color, clean_flag, clean_name
from .validation import safe_color as _safe_color

logger = logging.getLogger("statusadmin.convoso")

DEFAULT_API_URL = "https://api.convoso.com/v1"
# Convoso documents no rate limit; this only stops a hostile or mistaken Retry-After from
# holding a supervisor's request (and a worker) for minutes.
MAX_RETRY_AFTER_SECONDS = 5.0
# The audit log keeps Convoso's error code in a 32-bit integer column (PostgreSQL's integer).
MAX_ERROR_CODE = 2_147_483_647
# ASCII digits only: str.isdigit() and int() also accept '²', '٦٠٦٩' and ' 6069'.
_CODE_DIGITS = re.compile(r"[0-9]{1,10}")
# What an echo of the API token in Convoso's text becomes.
TOKEN_PLACEHOLDER = "[token removed]"  # noqa: S105 - not a secret: what replaces one
# What no text column or page can hold: NUL (PostgreSQL refuses it) and lone surrogates (JSON
# can escape one; UTF-8 can't encode it). Replaced, not dropped, so nothing around one joins up.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class UpdateResult:
    before: Status
    after: Status

    @property
    def changed(self) -> list[str]:
        return self.before.changed_fields(self.after)


_TRUE = {"y", "yes", "1", "true", "t"}
_FALSE = {"n", "no", "0", "false", "f"}


def _as_bool(value: object) -> bool:
    """Y/N, true/false, 1/0, as strings or not: Convoso's documents show all of them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return False


def _says_no(value: object) -> bool:
    """Whether a reply's "success" says no, in any spelling Convoso's booleans come in.
    Anything else (missing, null, odd) is not read as a refusal: search replies have none."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str):
        return value.strip().lower() in _FALSE
    return False


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def _error_code(raw: object) -> int | None:
    """Convoso's error code as an int, or None for anything that isn't plainly one.

    The reference documents integers; a string of plain digits ("6069") counts too, since
    replies are parsed tolerantly everywhere else. Booleans, floats, numbers out of range and
    anything else do not, and the error keeps Convoso's text without a code.
    """
    if isinstance(raw, str) and _CODE_DIGITS.fullmatch(raw):
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= MAX_ERROR_CODE:
        return raw
    return None


def parse_status(item: Mapping[str, Any]) -> Status:
    """Build a Status from one search item, tolerating every shape Convoso has been seen to send."""
    workflow = item.get("workflow_disposition_event_option")
    if workflow is None:
        # Misspelt (and an integer) in some of Convoso's own examples.
        workflow = item.get("workflow_dispositon_event_option")
    return Status(
        code=_as_text(item.get("status")).strip(),
        name=_as_text(item.get("name")),
        color=_safe_color(item.get("hex_color")),
        workflow=_as_text(workflow) or None,
        custom=_as_bool(item.get("custom_status")),
        **{flag: _as_bool(item.get(flag)) for flag in FLAGS},
    )


def _yn(value: bool) -> str:
    return "Y" if value else "N"


def status_form(status: Status) -> dict[str, str]:
    """The form fields for insert/update: every flag as Y/N and the colour without '#'."""
    form = {"status": status.code, "name": status.name}
    if status.color:
        form["hex_color"] = status.color.removeprefix("#")
    form.update({flag: _yn(value) for flag, value in status.flags().items()})
    return form


def account_fingerprint(api_url: str, token: str) -> str:
    """A stable, non-reversible id for 'this token on this API', so data from one Convoso
    account is never shown as another's. It reveals nothing about the token."""
    digest = hashlib.sha256(f"{api_url.rstrip('/')}\n{token}".encode()).hexdigest()
    return digest[:16]


def _token_pattern(token: str) -> re.Pattern[str] | None:
    """Matches the token as it was sent and as it might be echoed back: URL-encoded either
    way, in either case (percent-escapes come in both)."""
    if not token:
        return None
    forms = sorted({token, quote_plus(token), quote(token, safe="")}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, forms)), re.IGNORECASE)


def _was_sent(exc: requests.RequestException) -> bool:
    """Whether the request may have reached Convoso: anything but a failure to connect."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return not isinstance(cause, NewConnectionError)


class _CappedRetry(Retry):
    def get_retry_after(self, response):  # type: ignore[no-untyped-def]
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER_SECONDS)


def retrying_adapter(retries: int, backoff: float) -> HTTPAdapter:
    """Adapter for search and update: both are safe to repeat (update sends every field).

    Retried: connection errors, 429 (honouring Retry-After), 502, 503, 504. Read timeouts are
    not retried (``read=False`` re-raises them) because the first request may have been applied.
    """
    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=False,
        status=retries,
        other=0,
        redirect=0,  # never followed, here or by requests (see _post)
        backoff_factor=backoff,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    return HTTPAdapter(max_retries=retry)


class _InsertRetry(_CappedRetry):
    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # urllib3 would also repeat a 413 or 503 that carries Retry-After: not an insert.
        return status_code == 429 and super().is_retry(method, status_code, has_retry_after)


def insert_adapter(retries: int, backoff: float) -> HTTPAdapter:
    """Adapter for insert: retried only on 429 Too Many Requests (honouring Retry-After), the
    one answer that says the request was not carried out."""
    retry = _InsertRetry(
        total=retries,
        connect=0,
        read=False,
        status=retries,
        other=0,
        redirect=0,
        backoff_factor=backoff,
        status_forcelist=(429,),
        allowed_methods=frozenset({"POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    return HTTPAdapter(max_retries=retry)


class ConvosoClient:
    """Search, insert and update lead statuses.

    ``transport``, if given, replaces the HTTP adapters (the sandbox uses this); the rest of the
    code path is identical.
    """

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        token: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.25,
        transport: BaseAdapter | None = None,
        account: str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._echo = _token_pattern(token)
        self.timeout = (connect_timeout, read_timeout)
        self.account = account or account_fingerprint(self.api_url, token)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "statusadmin/0.1"
        if transport is not None:
            self.session.mount(self.api_url + "/", transport)
        else:
            self.session.mount(self.api_url + "/", retrying_adapter(retries, backoff))
            # An insert is not idempotent: a repeat after a lost reply could create it twice,
            # so it is repeated only after a 429, which says it was not carried out
            # (requests picks the longest matching prefix).
            self.session.mount(self.api_url + "/status/insert", insert_adapter(retries, backoff))

    def __repr__(self) -> str:
        # Never show the token, even in a debugger or a traceback's locals.
        return f"<ConvosoClient {self.api_url} account={self.account}>"

    # --- public API --------------------------------------------------------------------------

    def search(self, query: str = "") -> list[Status]:
        """Statuses whose code or name contains ``query`` (case-insensitive); '' lists all."""
        payload = self.call("search", {"query": query})
        data = payload.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise self._malformed("search", may_have_applied=False)
        statuses = [
            self._upstream_status(parse_status(item)) for item in data if isinstance(item, Mapping)
        ]
        return [s for s in statuses if s.code]

    def get(self, code: str) -> Status:
        """The status with exactly this code, read fresh from Convoso."""
        wanted = code.strip().upper()
        for status in self.search(wanted):
            if status.code.upper() == wanted:
                return status
        raise errors.StatusNotFound(
            errors.NOT_FOUND_EXPLANATION, endpoint="search", upstream_message=""
        )

    def insert(
        self,
        *,
        code: str,
        name: str,
        color: str | None = None,
        flags: Mapping[str, object],
    ) -> Status:
        """Create a custom status. Never retried: an insert is not idempotent, so after a lost
        reply (ConvosoUnavailable with may_have_applied) the caller must read before retrying.
        """
        status = Status(
            code=clean_code(code),
            name=clean_name(name),
            color=clean_color(color),
            custom=True,
            **{flag: clean_flag(flag, flags.get(flag, False)) for flag in FLAGS},  # type: ignore[arg-type]  # the seven bool flags
        )
        self.call("insert", status_form(status))
        return status

    def update(
        self, code: str, changes: Mapping[str, object], *, before: Status | None = None
    ) -> UpdateResult:
        """Change name, colour and/or flags of a custom status.

        Convoso treats an omitted flag as empty (6071-6077), so this merges ``changes`` into the
        current status and sends everything. The current status is read fresh from Convoso
        unless the caller has just read it and passes it as ``before``; either way it is the
        audit log's "before".
        """
        cleaned = clean_changes(changes)
        if before is None:
            before = self.get(code)
        if cleaned.get("color", before.color) is None:
            cleaned.pop("color", None)  # an empty colour means "leave it"; Convoso can't clear one
        after = replace(before, **cleaned)  # type: ignore[arg-type]  # clean_changes: valid fields
        self.call("update", status_form(after))
        return UpdateResult(before=before, after=after)

    # --- transport and parsing -----------------------------------------------------------------

    def _upstream_text(self, text: str) -> str:
        """Convoso's text, fit to be stored and shown, and without the API token. Every piece
        of upstream text passes through here before it leaves the client: only the client
        knows the token."""
        text = _UNSTORABLE.sub("\ufffd", text)
        return text if self._echo is None else self._echo.sub(TOKEN_PLACEHOLDER, text)

    def _upstream_status(self, status: Status) -> Status:
        return replace(
            status,
            code=self._upstream_text(status.code),
            name=self._upstream_text(status.name),
            workflow=None if status.workflow is None else self._upstream_text(status.workflow),
        )

    def call(self, endpoint: str, fields: Mapping[str, str]) -> dict[str, Any]:
        """POST ``fields`` to /status/<endpoint>; return the JSON body or raise a ConvosoError."""
        url = f"{self.api_url}/status/{endpoint}"
        started = time.monotonic()
        outcome = "ok"
        http_status: int | None = None
        try:
            response = self._post(url, endpoint, fields)
            http_status = response.status_code
            return self._parse(endpoint, response)
        except errors.ConvosoError as exc:
            outcome = exc.outcome if not isinstance(exc, errors.ConvosoUnavailable) else exc.kind
            raise
        finally:
            logger.info(
                "convoso %s %s",
                endpoint,
                outcome,
                extra={
                    "convoso_endpoint": endpoint,
                    "convoso_outcome": outcome,
                    "convoso_http_status": http_status,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )

    def _post(self, url: str, endpoint: str, fields: Mapping[str, str]) -> requests.Response:
        # The token goes in the form body only: query strings end up in proxy logs.
        data = {"auth_token": self._token, **fields}
        write = endpoint != "search"
        try:
            # A redirect would re-send the whole form, token included, wherever Location points.
            return self.session.post(url, data=data, timeout=self.timeout, allow_redirects=False)
        except requests.ConnectTimeout:
            raise errors.ConvosoUnavailable(
                "Convoso could not be reached in time, so nothing was changed. Try again shortly.",
                kind="timeout",
                endpoint=endpoint,
            ) from None
        except requests.ReadTimeout:
            raise errors.ConvosoUnavailable(
                "Convoso did not answer in time.",
                kind="timeout",
                may_have_applied=write,
                endpoint=endpoint,
            ) from None
        except requests.RequestException as exc:
            # `from None` below: the chained exception holds the request, and so the token.
            if not _was_sent(exc):
                raise errors.ConvosoUnavailable(
                    "Convoso could not be reached (the connection failed), so nothing was changed.",
                    kind="connection",
                    endpoint=endpoint,
                ) from None
            raise errors.ConvosoUnavailable(
                "The connection to Convoso broke before it answered.",
                kind="connection",
                may_have_applied=write,
                endpoint=endpoint,
            ) from None

    def _parse(self, endpoint: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if 300 <= status < 400:
            raise errors.ConvosoUnavailable(
                f"Convoso answered with a redirect (HTTP {status}) instead of a reply. The "
                "dashboard never follows redirects, so the API token was not sent anywhere "
                "else, and nothing was changed. An administrator should check CONVOSO_API_URL.",
                kind="redirect",
                endpoint=endpoint,
                upstream_message=f"HTTP {status}",
            )
        if status in (401, 403):
            raise errors.TokenRejected(
                errors.BAD_AUTH_EXPLANATION, endpoint=endpoint, upstream_message=f"HTTP {status}"
            )
        if status >= 500 or status == 429:
            # A 5xx may come after the work was done (500) or from a proxy in front (502-504).
            raise errors.ConvosoUnavailable(
                f"Convoso had a problem of its own (HTTP {status}).",
                kind="http_error",
                may_have_applied=endpoint != "search" and status == 500,
                endpoint=endpoint,
                upstream_message=f"HTTP {status}",
            )
        try:
            payload = response.json()
        except (ValueError, RecursionError):  # the latter: arrays or objects nested too deep
            payload = None
        if not isinstance(payload, dict):
            if status >= 400:
                raise errors.UnexpectedConvosoError(
                    f"Convoso refused the request (HTTP {status}).",
                    endpoint=endpoint,
                    upstream_message=f"HTTP {status}",
                )
            raise self._malformed(endpoint, may_have_applied=endpoint != "search")
        if _says_no(payload.get("success")) or status >= 400:
            raise self._rejection(endpoint, payload, status)
        if endpoint != "search" and not _as_bool(payload.get("success")):
            # A write is done only when Convoso says so ("success": true, as documented); a
            # reply that says neither yes nor no may come after the work, or instead of it.
            raise self._malformed(endpoint, may_have_applied=True)
        return payload

    @staticmethod
    def _malformed(endpoint: str, *, may_have_applied: bool) -> errors.ConvosoUnavailable:
        return errors.ConvosoUnavailable(
            "Convoso sent a reply the dashboard could not read.",
            kind="malformed",
            may_have_applied=may_have_applied,
            endpoint=endpoint,
        )

    def _rejection(
        self, endpoint: str, payload: Mapping[str, Any], status: int
    ) -> errors.ConvosoError:
        # Cleaned before it is cut, or a cut could leave the token's first characters behind.
        text = self._upstream_text(_as_text(payload.get("error") or payload.get("message")))
        text = text[:500]
        code = _error_code(payload.get("code"))
        known = errors.CODES_BY_ENDPOINT.get(endpoint, {}).get(code) if code else None
        if known:
            field, _documented, explanation = known
            cls = errors.StatusNotModifiable if code == 6069 else errors.ConvosoFieldError
            return cls(
                explanation, field=field, endpoint=endpoint, code=code, upstream_message=text
            )
        lowered = text.strip().lower()
        if lowered == errors.BAD_AUTH_TEXT.lower():
            return errors.TokenRejected(
                errors.BAD_AUTH_EXPLANATION, endpoint=endpoint, code=code, upstream_message=text
            )
        if lowered == errors.DUPLICATE_TEXT.lower():
            return errors.DuplicateStatus(
                errors.DUPLICATE_EXPLANATION, endpoint=endpoint, code=code, upstream_message=text
            )
        if lowered == errors.NOT_FOUND_TEXT.lower():
            return errors.StatusNotFound(
                errors.NOT_FOUND_EXPLANATION, endpoint=endpoint, code=code, upstream_message=text
            )
        shown = text or (f"error code {code}" if code else f"HTTP {status}")
        return errors.UnexpectedConvosoError(
            f"Convoso refused the change and said: {shown}",
            endpoint=endpoint,
            code=code,
            upstream_message=text,
        )
