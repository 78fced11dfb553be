"""`manage.py convoso_account` and `rotate_token_keys`: an account is added with its token read
from standard input and checked with Convoso first; keys rotate without losing a token."""

from __future__ import annotations

import io
import re
import secrets
import subprocess
import sys

import pytest
import responses
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from statusadmin.convoso import tenancy, tokens
from statusadmin.convoso.models import ConvosoAccount, Membership
from statusadmin.convoso.sandbox import token_for
from tests.factories import make_user
from tests.helpers import REAL_API, ROOT, subprocess_environment
from tests.tenancy.token_check import SEARCH, accepts, refuses


def fake_token() -> str:
    return "tok-" + secrets.token_hex(12)


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    call_command("convoso_account", *args, stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
class AddTests:
    def test_adds_the_account_with_its_token_encrypted(self, convoso):
        accepts(convoso)
        token = fake_token()
        said = run("add", "East office", "--api-url", REAL_API, stdin=token + "\n")
        row = ConvosoAccount.objects.get()
        assert (row.slug, row.name, row.api_url, row.enabled) == (
            "east-office", "East office", REAL_API, True,
        )  # fmt: skip
        assert token not in row.token_encrypted
        assert tokens.decrypt(row.token_encrypted) == token
        assert row.token_last4 == token[-4:]
        assert token not in said
        assert f"••••{token[-4:]}" in said
        # The token was checked with a search, sent in the form body.
        [call] = convoso.calls
        assert f"auth_token={token}" in call.request.body

    def test_a_slug_can_be_chosen(self, convoso):
        accepts(convoso)
        run("add", "East office", "--api-url", REAL_API, "--slug", "east", stdin=fake_token())
        assert ConvosoAccount.objects.get().slug == "east"
        assert tenancy.by_slug("east") is not None

    def test_a_refused_token_saves_nothing(self, convoso):
        refuses(convoso)
        with pytest.raises(CommandError, match="Convoso refused this token") as raised:
            run("add", "East office", "--api-url", REAL_API, stdin=fake_token())
        assert "Invalid authentication token" in str(raised.value)
        assert "Nothing was saved" in str(raised.value)
        assert not ConvosoAccount.objects.exists()

    def test_an_http_401_is_a_refused_token(self, convoso):
        convoso.add(responses.POST, SEARCH, status=401)
        with pytest.raises(CommandError, match="Convoso refused this token"):
            run("add", "East office", "--api-url", REAL_API, stdin=fake_token())
        assert not ConvosoAccount.objects.exists()

    def test_a_refusal_in_other_words_is_a_refused_token(self, convoso):
        body = {"success": False, "error": "Account suspended"}
        convoso.add(responses.POST, SEARCH, json=body)
        with pytest.raises(CommandError, match=r"Convoso refused this token \(Account suspended\)"):
            run("add", "East office", "--api-url", REAL_API, stdin=fake_token())
        assert not ConvosoAccount.objects.exists()

    def test_an_unreachable_convoso_saves_nothing(self, convoso):
        convoso.add(responses.POST, SEARCH, status=503)
        with pytest.raises(CommandError, match="could not check the token"):
            run("add", "East office", "--api-url", REAL_API, stdin=fake_token())
        assert not ConvosoAccount.objects.exists()

    def test_no_token_on_stdin(self, convoso):
        with pytest.raises(CommandError, match="No token"):
            run("add", "East office", "--api-url", REAL_API, stdin="\n")
        assert not convoso.calls

    def test_a_duplicate_slug(self, convoso, east):
        with pytest.raises(CommandError, match="'east' is taken"):
            run("add", "East two", "--api-url", REAL_API, "--slug", "east", stdin=fake_token())
        assert not convoso.calls

    @pytest.mark.parametrize("slug", ["sandbox", "default", "0123456789abcdef"])
    def test_a_reserved_slug(self, convoso, slug):
        with pytest.raises(CommandError, match="reserved"):
            run("add", "East", "--api-url", REAL_API, "--slug", slug, stdin=fake_token())
        assert not convoso.calls

    def test_a_name_whose_slug_is_reserved_asks_for_one(self, convoso):
        with pytest.raises(CommandError, match="--slug"):
            run("add", "Default", "--api-url", REAL_API, stdin=fake_token())

    def test_a_bad_slug(self, convoso):
        with pytest.raises(CommandError, match="Lower-case letters"):
            run("add", "East", "--api-url", REAL_API, "--slug", "East_1", stdin=fake_token())

    @pytest.mark.parametrize("url", ["not a url", "ftp://convoso.test/v1", "api.convoso.com"])
    def test_a_bad_url(self, convoso, url):
        with pytest.raises(CommandError, match="--api-url"):
            run("add", "East", "--api-url", url, stdin=fake_token())
        assert not convoso.calls
        assert not ConvosoAccount.objects.exists()


@pytest.mark.django_db
class ListEnableDisableTests:
    def test_list_shows_the_ending_only(self, east):
        row = ConvosoAccount.objects.get(slug="east")
        Membership.objects.create(user=make_user("ed"), account=row, role="Supervisor")
        Membership.objects.create(user=make_user("em"), account=row, role="Compliance")
        said = run("list")
        token = token_for("east")
        assert token not in said
        assert row.token_encrypted not in said
        [line] = [line for line in said.splitlines() if line.startswith("east ")]
        cells = re.split(r"\s{2,}", line.strip())
        assert cells == [
            "east", "East office", tenancy.SANDBOX_API_URL, "enabled", f"••••{token[-4:]}", "2",
        ]  # fmt: skip

    def test_list_without_accounts(self, db):
        assert "No Convoso accounts" in run("list")

    def test_disable_and_enable(self, east):
        assert "Disabled" in run("disable", "east")
        assert tenancy.by_slug("east") is None
        line = next(line for line in run("list").splitlines() if line.startswith("east "))
        assert re.split(r"\s{2,}", line)[3] == "disabled"
        assert "Enabled" in run("enable", "east")
        assert tenancy.by_slug("east") is not None

    @pytest.mark.parametrize("action", ["disable", "enable"])
    def test_an_unknown_slug(self, db, action):
        with pytest.raises(CommandError, match="No Convoso account has the short name 'nope'"):
            run(action, "nope")

    def test_keygen_prints_a_fernet_key(self, db):
        Fernet(run("keygen").strip())


@pytest.mark.django_db(transaction=True)
def test_the_token_goes_in_on_stdin_and_never_comes_out():
    """In another process, as an administrator runs it: the token is read from standard input,
    checked against the (in-process) sandbox, and appears in no argument and no output."""
    token = token_for("acct" + secrets.token_hex(8))
    args = [sys.executable, "manage.py", "convoso_account", "add", "Client A",
            "--api-url", tenancy.SANDBOX_API_URL, "--slug", "client-a"]  # fmt: skip
    done = subprocess.run(
        args, input=token + "\n", cwd=ROOT, env=subprocess_environment(),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(token not in arg for arg in args)
    assert token not in done.stdout
    assert token not in done.stderr
    assert f"••••{token[-4:]}" in done.stdout
    row = ConvosoAccount.objects.get(slug="client-a")
    assert tokens.decrypt(row.token_encrypted) == token

    wrong = token_for("Not-A-Tenant")  # the sandbox refuses it
    done = subprocess.run(
        [*args[:4], "Client B", *args[5:7], "--slug", "client-b"], input=wrong + "\n",
        cwd=ROOT, env=subprocess_environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Convoso refused this token" in done.stderr
    assert wrong not in done.stdout + done.stderr
    assert not ConvosoAccount.objects.filter(slug="client-b").exists()


@pytest.mark.django_db
class RotationTests:
    def test_rotated_tokens_open_with_the_new_key_only(self, settings, convoso):
        key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        settings.CONVOSO_TOKEN_KEYS = [key_a]
        accepts(convoso)
        token = fake_token()
        run("add", "East office", "--api-url", REAL_API, "--slug", "east", stdin=token)
        before = ConvosoAccount.objects.get().token_encrypted

        settings.CONVOSO_TOKEN_KEYS = [key_b, key_a]
        out = io.StringIO()
        call_command("rotate_token_keys", stdout=out)
        assert "Re-encrypted 1 token" in out.getvalue()
        after = ConvosoAccount.objects.get().token_encrypted
        assert after != before
        assert token not in out.getvalue()

        settings.CONVOSO_TOKEN_KEYS = [key_b]
        assert tokens.decrypt(after) == token
        settings.CONVOSO_TOKEN_KEYS = [key_a]
        with pytest.raises(tokens.TokenUnreadable):
            tokens.decrypt(after)

    def test_a_token_no_key_opens_stops_the_rotation(self, settings, east, west):
        stored = ConvosoAccount.objects.values_list("slug", "token_encrypted")
        before = dict(stored)
        settings.CONVOSO_TOKEN_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(CommandError) as raised:
            call_command("rotate_token_keys", stdout=io.StringIO())
        message = str(raised.value)
        assert "East office (east)" in message
        assert "West client (west)" in message
        assert token_for("east") not in message
        # Nothing was rewritten, not even a token that could be opened.
        assert dict(stored.all()) == before

    def test_nothing_to_rotate(self, db):
        out = io.StringIO()
        call_command("rotate_token_keys", stdout=out)
        assert "Re-encrypted 0 tokens" in out.getvalue()
