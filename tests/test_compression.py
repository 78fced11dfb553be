"""Responses compressed at the level the settings give (GZIP_LEVEL), still padded against BREACH.

Search answers every keystroke with tens of kilobytes of rows; how hard they are compressed is a
trade of a worker's time against bytes on the wire (README, Performance)."""

from __future__ import annotations

import gzip

import pytest
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory, override_settings

from statusadmin.convoso.sandbox import seed
from statusadmin.middleware import GZipMiddleware

# Text as a page has it: repeated markup with some variety, so levels differ in size.
BODY = b"".join(
    b'<tbody id="row-C%04d"><tr><td class="flag"><button name="dnc" value="%s">DNC %d</button>'
    b"</td></tr></tbody>\n" % (i, b"YN"[i % 2 : i % 2 + 1], i * 7919 % 1000)
    for i in range(400)
)


def compressed(response: HttpResponse, *, accept: str = "gzip, deflate") -> HttpResponse:
    request = RequestFactory().get("/", HTTP_ACCEPT_ENCODING=accept)
    middleware = GZipMiddleware(lambda _request: response)
    result = middleware(request)
    assert isinstance(result, HttpResponse | StreamingHttpResponse)
    return result


def fname_length(data: bytes) -> int:
    """The length of the gzip header's file name, where the BREACH padding is."""
    assert data[3] & gzip.FNAME, "no file name in the header: the response is not padded"
    return data.index(b"\x00", 10) - 10


def test_a_page_is_compressed_and_comes_back_whole() -> None:
    response = compressed(HttpResponse(BODY, content_type="text/html"))
    assert response["Content-Encoding"] == "gzip"
    assert response["Vary"] == "Accept-Encoding"
    assert gzip.decompress(response.content) == BODY
    assert response["Content-Length"] == str(len(response.content))
    assert len(response.content) < len(BODY) // 5


@pytest.mark.parametrize("level", [1, 9])
def test_the_level_is_the_settings(level: int) -> None:
    with override_settings(GZIP_LEVEL=level):
        response = compressed(HttpResponse(BODY))
    # Without the header's padding, the very bytes gzip gives at that level.
    padding = fname_length(response.content) + 1
    body = response.content[10 + padding :]
    assert body == gzip.compress(BODY, compresslevel=level, mtime=0)[10:]


def test_every_response_is_padded_by_a_random_length() -> None:
    lengths = {fname_length(compressed(HttpResponse(BODY)).content) for _ in range(30)}
    # 30 draws from 0..99: all equal would be a one-in-10^58 chance.
    assert len(lengths) > 1
    assert max(lengths) < 100


def test_a_strong_etag_becomes_weak() -> None:
    response = HttpResponse(BODY)
    response["ETag"] = '"abc"'
    assert compressed(response)["ETag"] == 'W/"abc"'


@pytest.mark.parametrize(
    ("body", "accept", "encoding"),
    [
        (b"short" * 39, "gzip", None),  # 195 bytes: not worth it
        (BODY, "identity", None),  # the client takes no gzip
        (BODY, "br", "br"),  # already encoded by the view
        (bytes(range(256)) * 1, "gzip", None),  # gzip would make it longer
    ],
)
def test_left_alone(body: bytes, accept: str, encoding: str | None) -> None:
    response = HttpResponse(body)
    if encoding:
        response["Content-Encoding"] = encoding
    result = compressed(response, accept=accept)
    assert result.content == body
    assert result.get("Content-Encoding") == encoding


def test_streaming_responses_are_still_compressed() -> None:
    response = compressed(StreamingHttpResponse(iter([BODY[:5000], BODY[5000:]])))
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(b"".join(response.streaming_content)) == BODY


@pytest.mark.django_db
def test_the_search_partial_is_compressed_at_the_level(supervisor_client) -> None:  # type: ignore[no-untyped-def]
    seed()
    plain = supervisor_client.get("/", {"q": "a"}, HTTP_HX_REQUEST="true").content
    with override_settings(GZIP_LEVEL=9):
        tight = supervisor_client.get(
            "/", {"q": "a"}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_ENCODING="gzip"
        )
    with override_settings(GZIP_LEVEL=1):
        loose = supervisor_client.get(
            "/", {"q": "a"}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_ENCODING="gzip"
        )
    assert tight["Content-Encoding"] == loose["Content-Encoding"] == "gzip"
    # The CSRF token in the page is masked anew each time; the rows are the same.
    for response in (tight, loose):
        text = gzip.decompress(response.content)
        assert text.count(b'class="status-row"') == plain.count(b'class="status-row"') > 0
    tight_size = len(tight.content) - fname_length(tight.content)
    loose_size = len(loose.content) - fname_length(loose.content)
    # Far more than the few bytes the masked token can change.
    assert tight_size + 100 < loose_size
