"""The <code:...> path converter: a status code in a URL. Registered once, on import."""

import re

from django.urls import register_converter

# Codes that can safely appear in a URL path and an HTML id. Every code the dashboard creates
# matches; a code created elsewhere that doesn't is shown but can't be edited here.
ADDRESSABLE_CODE_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_ADDRESSABLE_CODE = re.compile(ADDRESSABLE_CODE_PATTERN)


def is_addressable(code: str) -> bool:
    """Whether a URL can be built from ``code``; reversing with any other code would raise."""
    return _ADDRESSABLE_CODE.fullmatch(code) is not None


class CodeConverter:
    regex = ADDRESSABLE_CODE_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CodeConverter, "code")
