"""Hypothesis strategies for hostile Convoso replies, shared by the client and dashboard tests.

A reply is (HTTP status, headers, body bytes), as a `responses` callback returns it. Every field
of the JSON may be missing or of any JSON type; texts may be huge, contain NUL or lone
surrogates, or echo the API token (as sent, URL-encoded, or in another case); bodies may be
no JSON at all, another encoding, or not text.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

from hypothesis import example
from hypothesis import strategies as st

from statusadmin.convoso import errors
from statusadmin.convoso.status import FLAGS

Reply = tuple[int, dict[str, str], bytes]
MB = 1_000_000
# Letters, digits, punctuation and spaces, plus what JSON may carry but text may not hold:
# control characters (NUL among them) and lone surrogates.
ODD_CHARACTERS = st.characters(categories=["L", "N", "P", "S", "Z", "Cc", "Cs"])


def echoes(token: str) -> list[str]:
    """The token as Convoso might echo it."""
    return [token, quote_plus(token), quote(token, safe=""), quote(token, safe="").lower(),
            token.upper()]  # fmt: skip


def texts(token: str) -> st.SearchStrategy[str]:
    echo = st.sampled_from(echoes(token))
    return st.one_of(
        st.text(ODD_CHARACTERS, max_size=40),
        st.builds(
            lambda a, e, b: a + e + b,
            st.text(ODD_CHARACTERS, max_size=10),
            echo,
            st.text(ODD_CHARACTERS, max_size=10),
        ),
        st.sampled_from(
            [
                "",
                " ",
                "\x00",
                "XF\x00ER",
                "\ud800",
                "a\udfffb",
                "<script>alert(1)</script>",
                errors.BAD_AUTH_TEXT,
                errors.NOT_FOUND_TEXT,
                errors.DUPLICATE_TEXT,
                "XFER",
                "x" * 64,
            ]
        ),
        # Built when drawn, so the strategy's repr (in Hypothesis' reports) stays short.
        st.integers(0, MB).map(lambda n: "é" * n),
        st.integers(0, MB).map(lambda n: "x" * n + token),
    )


def json_values(token: str) -> st.SearchStrategy[object]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts(token))
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    )


ODD_CODES = ["²", "٦٠٦٩", "-1", -1, 0, 2**31, 2**40, 1.5, True, " 6069", "6069 ", "9" * 5000]
DOCUMENTED = sorted({*errors.INSERT_CODES, *errors.UPDATE_CODES})


def codes(token: str) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(ODD_CODES),
        st.sampled_from(DOCUMENTED),
        st.sampled_from(DOCUMENTED).map(str),
        st.integers(),
        st.from_regex(r"[0-9]{1,12}", fullmatch=True),
        json_values(token),
    )


def status_codes(token: str, limit: int | None) -> st.SearchStrategy[object]:
    """Values for an item's "status". With ``limit``, only values the client reads as a code of
    at most that many characters (text is cut; numbers are kept short)."""
    known = st.sampled_from(["XFER", "COMP", "NEW1", "xfer", " XFER "])
    if limit is None:
        return st.one_of(known, texts(token), json_values(token))
    short_numbers = st.integers(-(10 ** (limit - 2)), 10 ** (limit - 2))
    return st.one_of(
        known,
        texts(token).map(lambda text: text[:limit]),
        st.none() | st.booleans() | st.floats() | short_numbers,
        st.lists(json_values(token), max_size=2),
    )


def items(token: str, code_limit: int | None) -> st.SearchStrategy[dict[str, object]]:
    anything = json_values(token)
    text = st.one_of(texts(token), anything)
    flag = st.one_of(st.sampled_from(["Y", "N", "y", "1", "0", 1, 0, True, False]), anything)
    return st.fixed_dictionaries(
        {"status": status_codes(token, code_limit)},
        optional={
            "name": text,
            **dict.fromkeys(FLAGS, flag),
            "hex_color": st.one_of(st.sampled_from(["#00AA00", "00aa00", "red"]), anything),
            "custom_status": flag,
            "workflow_disposition_event_option": text,
            "workflow_dispositon_event_option": text,
        },
    )


def payloads(token: str, code_limit: int | None) -> st.SearchStrategy[dict[str, object]]:
    """Any shape at all, and, more often than chance would give, the shapes that reach deeper:
    a catalogue of odd statuses, and a refusal with an odd code and text."""
    anything = json_values(token)
    some_items = st.lists(st.one_of(items(token, code_limit), anything), max_size=5)
    text = st.one_of(texts(token), anything)
    # Convoso's booleans come as true/false, Y/N and 1/0 (convoso-api-notes.md).
    spelt = st.sampled_from([True, False, "true", "false", "Y", "N", "1", "0", 1, 0])
    any_shape = st.fixed_dictionaries(
        {},
        optional={
            "success": st.one_of(spelt, anything),
            "code": codes(token),
            "error": text,
            "message": text,
            "data": st.one_of(some_items, items(token, code_limit), anything),
        },
    )
    catalogue = st.fixed_dictionaries(
        {"data": st.lists(items(token, code_limit), min_size=1, max_size=5)},
        optional={"success": st.one_of(spelt, anything), "code": codes(token)},
    )
    refusal = st.fixed_dictionaries(
        {"success": st.sampled_from([False, "false", "N", "0", 0])},
        optional={"code": codes(token), "error": text, "message": text, "data": anything},
    )
    return st.one_of(any_shape, catalogue, refusal)


def _encoded(value: object, encoding: str) -> bytes:
    text = json.dumps(value, ensure_ascii=False)
    # surrogatepass: a lone surrogate becomes bytes that are not UTF-8 at all.
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


def bodies(token: str, code_limit: int | None) -> st.SearchStrategy[bytes]:
    json_payloads = payloads(token, code_limit)
    return st.one_of(
        json_payloads.map(lambda p: json.dumps(p).encode()),
        st.builds(_encoded, json_payloads, st.sampled_from(["utf-8", "utf-16", "latin-1"])),
        json_values(token).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"",
                b"<html><body>502 Bad Gateway</body></html>",
                b"[" * 100_000,
                b'{"a":' * 50_000,
                b'{"success": false, "error": "caf\xe9"}',
                b'{"success": false, "error": "\xc3\x28"}',
                b"\xff\xfe\x00\x00",
                b"null",
                b"NaN",
                b'{"code": 1e999999}',
                b'{"success": false, "code": ' + b"9" * 5000 + b"}",
            ]
        ),
    )


def replies(token: str, *, code_limit: int | None = None) -> st.SearchStrategy[Reply]:
    """Hostile replies. ``code_limit`` keeps the statuses' codes to that many characters."""
    content_types = st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/html; charset=latin-1",
         "application/json; charset=no-such-charset", "text/plain; charset=utf-16"]
    )  # fmt: skip
    return st.tuples(
        st.one_of(st.just(200), st.integers(100, 599)),
        st.fixed_dictionaries({}, optional={"Content-Type": content_types}),
        bodies(token, code_limit),
    )


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


# Replies that once broke the client or the dashboard, tried on every run whatever is drawn.
KNOWN_NASTY: list[Reply] = [
    (200, {}, _json({"data": [{"status": "XFER", "name": "a\x00b\ud800c",
                               "workflow_disposition_event_option": "\x00"}]})),
    (200, {}, _json({"success": False, "error": "a\x00b\ud800c"})),
    (200, {}, _json({"success": False, "code": "²", "error": "Odd"})),
    (200, {}, _json({"success": False, "code": 2**40, "error": "x" * MB})),
    (200, {}, _json({"success": "false", "error": errors.DUPLICATE_TEXT})),
    (200, {}, b"[" * 100_000),
    (307, {"Location": "https://elsewhere.test/"}, b""),
]  # fmt: skip


def known_nasty(argument: str, **others: object):  # type: ignore[no-untyped-def]
    """Adds each KNOWN_NASTY reply as an explicit example for ``argument``."""

    def decorate(test):  # type: ignore[no-untyped-def]
        for nasty in KNOWN_NASTY:
            test = example(**{argument: nasty}, **others)(test)
        return test

    return decorate
