"""The DNC reason rule: what a compliance officer reads must be words, not invisible bytes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusadmin.convoso.validation import (
    REASON_MAX_LENGTH,
    REASON_MIN_WORD_CHARACTERS,
    InvalidInput,
    clean_reason,
)


class ReasonTests:
    @pytest.mark.parametrize(
        "reason",
        [
            "",
            "   ",
            "\x00",
            "\x00\x00\x00\x00",
            "\u200b",  # zero-width space (Cf)
            "\u200b\u200c\u200d\u2060\ufeff",
            "\u202e\u202d",  # bidi overrides
            "\t\r\n\x0b\x0c",
            "\u3164\u3164\u3164\u3164",  # Hangul filler: a "letter" that shows as nothing
            "\u115f\u1160\uffa0",
            "...",
            "- -",
            "ab",
            "a\x00b",  # two letters with a NUL between
            "\u0301\u0301\u0301",  # combining accents alone
        ],
    )
    def test_refused(self, reason):
        with pytest.raises(InvalidInput) as exc:
            clean_reason(reason)
        assert exc.value.field == "reason"

    @pytest.mark.parametrize(
        ("given_text", "kept"),
        [
            ("Customer opt-outs", "Customer opt-outs"),
            ("  Ticket 4711  ", "Ticket 4711"),
            ("abc", "abc"),
            ("客户要求", "客户要求"),
            ("Opt\u200bout\x00 list", "Optout list"),
            ("line one\nline two\t!", "line one line two !"),
            ("\u202eCompliance request", "Compliance request"),
        ],
    )
    def test_accepted_and_cleaned(self, given_text, kept):
        assert clean_reason(given_text) == kept

    @pytest.mark.parametrize(
        ("reason", "message"),
        [
            ("\u200b", "why DNC is being changed"),
            ("..", "at least 3 letters or digits"),
            ("x" * (REASON_MAX_LENGTH + 1), f"under {REASON_MAX_LENGTH} characters"),
        ],
    )
    def test_messages_say_what_is_wrong(self, reason, message):
        with pytest.raises(InvalidInput, match=message) as exc:
            clean_reason(reason)
        assert exc.value.field == "reason"

    def test_the_limit_is_on_what_is_kept(self):
        padded = "\u200b" * 600 + "Opt-out request"
        assert clean_reason(padded) == "Opt-out request"

    def test_not_a_string(self):
        for value in (None, 123, ["abc"], b"abc"):
            with pytest.raises(InvalidInput):
                clean_reason(value)

    @given(st.text(max_size=80))
    def test_what_is_accepted_is_readable_text(self, text):
        try:
            kept = clean_reason(text)
        except InvalidInput:
            return
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in kept)
        assert kept == kept.strip()
        words = [ch for ch in kept if unicodedata.category(ch)[0] in "LN"]
        assert len(words) >= REASON_MIN_WORD_CHARACTERS
        assert len(kept) <= REASON_MAX_LENGTH
