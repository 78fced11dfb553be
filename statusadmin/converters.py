"""The <code:...> path converter: a status code in a URL, for every app's URLs.

Registered once, by the root URLconf, before any app's URLs are read.
"""

from django.urls import register_converter

from statusadmin.convoso.status import ADDRESSABLE_CODE_PATTERN


class StatusCodeConverter:
    regex = ADDRESSABLE_CODE_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(StatusCodeConverter, "code")
