"""Requests whose body says it is not UTF-8, or can't be read at all: a 400, never a 500."""

from __future__ import annotations

import pytest
from django.core.signals import request_started
from django.db import close_old_connections
from django.test import Client

from statusadmin.convoso.sandbox import seed
from tests.factories import add_entry

pytestmark = pytest.mark.django_db

POST_URLS = [
    "/accounts/login/",
    "/refresh/",
    "/statuses/new/",
    "/statuses/XFER/flag/",
    "/statuses/XFER/color/",
    "/statuses/XFER/name/",
    "/audit/verify/",
]
# Real encodings Django would try (and fail) to decode a form with, codecs that aren't text
# encodings at all, and names that are no encoding.
FOREIGN_CHARSETS = ["utf-16", "utf-32", "latin-1", "utf-7", "cp1252", "shift_jis", "utf-8-sig",
                    "rot13", "base64", "zlib", "hex", "undefined", "idna", "nonsense"]  # fmt: skip
UTF8_NAMES = ["utf-8", "UTF-8", "utf8", "UTF8", "u8", "utf_8"]
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=xyz"
BODY = b"q=%41%ff&name=n%00&color=%23123456&callback=Y&username=ada&password=x"
MULTIPART_BODY = b'--xyz\r\nContent-Disposition: form-data; name="q"\r\n\r\n\xff\xfe\r\n--xyz--\r\n'


@pytest.fixture
def browser(admin_user) -> Client:  # type: ignore[no-untyped-def]
    """Logged in, and checked for CSRF like a real browser: the middleware reads the form."""
    seed()
    add_entry()
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(admin_user)
    client.get("/")
    return client


def post(client: Client, url: str, body: bytes, content_type: str, **extra: str):  # type: ignore[no-untyped-def]
    token = client.cookies["csrftoken"].value
    # generic() sends the bytes as they are; post() would re-encode them in the charset.
    return client.generic(
        "POST", url, body, content_type=content_type, HTTP_X_CSRFTOKEN=token, **extra
    )


def assert_refused(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Send forms as UTF-8.\n"


class ForeignCharsetTests:
    @pytest.mark.parametrize("charset", FOREIGN_CHARSETS)
    @pytest.mark.parametrize("url", POST_URLS)
    def test_a_form_in_another_charset_is_refused(self, browser, url, charset):
        assert_refused(post(browser, url, BODY, f"{FORM}; charset={charset}"))

    @pytest.mark.parametrize("charset", ["utf-16", "base64", "rot13", "undefined", "idna"])
    @pytest.mark.parametrize("url", POST_URLS)
    def test_a_multipart_form_in_another_charset_is_refused(self, browser, url, charset):
        assert_refused(post(browser, url, MULTIPART_BODY, f"{MULTIPART}; charset={charset}"))

    @pytest.mark.parametrize("charset", ["utf-16", "latin-1", "nonsense"])
    def test_a_get_that_names_another_charset_is_refused(self, browser, charset):
        # Django would decode the query string in the body's charset too.
        response = browser.get("/", {"q": "\xe9"}, CONTENT_TYPE=f"text/plain; charset={charset}")
        assert_refused(response)

    def test_the_login_form_is_refused_before_anything_is_checked(self, client):
        from axes.models import AccessAttempt

        client.get("/accounts/login/")
        assert_refused(post(client, "/accounts/login/", BODY, f"{FORM}; charset=utf-16"))
        assert not AccessAttempt.objects.exists()


class Utf8Tests:
    @pytest.mark.parametrize("charset", UTF8_NAMES)
    def test_utf8_by_any_name_is_read(self, browser, charset):
        response = post(
            browser, "/refresh/", "q=Transf\u00e9r".encode(), f"{FORM}; charset={charset}"
        )
        assert response.status_code == 302
        assert response["Location"] == "/?q=Transf%C3%A9r"

    @pytest.mark.parametrize("charset", UTF8_NAMES)
    def test_logging_in_with_a_charset_named_utf8(self, client, admin_user, charset):
        client.get("/accounts/login/")
        body = b"username=ada&password=pw-ada"
        response = post(client, "/accounts/login/", body, f"{FORM}; charset={charset}")
        assert (response.status_code, response["Location"]) == (302, "/")

    @pytest.mark.parametrize("url", POST_URLS)
    def test_bytes_that_are_not_utf8_are_no_server_error(self, browser, url):
        for content_type in (FORM, f"{FORM}; charset=utf-8", "text/plain"):
            assert post(browser, url, b"q=\xff\xfe%ff&name=\x80", content_type).status_code < 500

    @pytest.mark.parametrize(
        "body",
        [
            MULTIPART_BODY,
            b"--xyz\r\nbroken\r\n",
            b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n--xyz--\r\n",
            b"--xyz\r\nContent-Disposition: form-data; name*=rot13''x\r\n\r\nabc\r\n--xyz--\r\n",
            b"no boundary at all",
        ],
    )
    @pytest.mark.parametrize("url", POST_URLS)
    def test_broken_multipart_is_no_server_error(self, browser, url, body):
        for content_type in (MULTIPART, "multipart/form-data", f"{MULTIPART}; charset=utf-8"):
            assert post(browser, url, body, content_type).status_code < 500


class UnreadableBodyTests:
    """Django reads a form lazily; if the first to read it is the 404 page (an unknown URL),
    its CSRF check raises MultiPartParserError or TooManyFieldsSent there, and that is a 500."""

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            (b"\x00", "multipart/form-data"),
            (b"--xyz\r\nbroken\r\n", "multipart/form-data; boundary=\x7f"),
            (b"--xyz\r\n" + b"".join(
                b'Content-Disposition: form-data; name="a%d"\r\n\r\n1\r\n--xyz\r\n' % i
                for i in range(1001)), MULTIPART),
            (b"&".join(b"a%d=1" % i for i in range(1001)), FORM),
        ],
        ids=["no-boundary", "invalid-boundary", "too-many-parts", "too-many-fields"],
    )  # fmt: skip
    @pytest.mark.parametrize("url", ["/nowhere/", "/statuses/A%20B/flag/", *POST_URLS])
    def test_is_refused_wherever_it_is_sent(self, browser, url, body, content_type):
        response = post(browser, url, body, content_type)
        assert response.status_code == 400
        assert response.content.decode() == "The form could not be read.\n"

    def test_even_without_a_session(self, client):
        client.get("/accounts/login/")
        response = post(client, "/nowhere/", b"\x00", "multipart/form-data")
        assert (response.status_code, response.content) == (400, b"The form could not be read.\n")


@pytest.mark.parametrize("charset", ["rot13", "undefined"])
def test_a_codec_that_is_no_text_encoding_with_a_query_string(charset):
    from wsgiref.util import setup_testing_defaults

    from statusadmin.wsgi import application

    environ: dict[str, object] = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD="GET",
        PATH_INFO="/accounts/login/",
        QUERY_STRING="next=%2F",
        CONTENT_TYPE=f"text/plain; charset={charset}",
        HTTP_HOST="127.0.0.1",
    )
    statuses: list[str] = []
    # As Django's test client does: the test's database connection must stay open.
    request_started.disconnect(close_old_connections)
    try:
        application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    finally:
        request_started.connect(close_old_connections)
    assert statuses == ["400 Bad Request"]
