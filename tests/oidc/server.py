"""A real OpenID Connect provider on loopback for the tests: tests/oidc/provider.mjs (the npm
package oidc-provider), run by node, driven from Python.

    with OidcProvider(redirect_uris=[DEFAULT_REDIRECT_URI, live_server.url + CALLBACK]) as idp:
        callback = idp.login(authorization_url, "sue", mfa=True)

The `oidc_provider` fixture (tests/conftest.py) keeps one for the whole test session and resets
its test switches before each test. This module imports nothing from Django.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from html import unescape
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, NotRequired, Self, TypedDict
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
# Where allauth's OpenID Connect provider "statusadmin" returns to, on Django's test client host.
CALLBACK_PATH = "/accounts/oidc/statusadmin/login/callback/"
DEFAULT_REDIRECT_URI = "http://testserver" + CALLBACK_PATH
SIGNED_OUT_PATH = "/accounts/login/"
START_TIMEOUT = 30.0

IdTokenFault = Literal["bad_signature", "unknown_key", "wrong_audience", "expired", "wrong_nonce"]
AuthMethod = Literal["client_secret_basic", "client_secret_post"]


class Account(TypedDict):
    sub: str
    email: str
    name: str
    preferred_username: str
    groups: list[str]
    # What the IdP reports as done at login when the "MFA" box is not ticked (default ["pwd"]).
    amr: NotRequired[list[str]]


DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    {
        "sub": "idp-sue-0001",
        "email": "sue@example.com",
        "name": "Sue Supervisor",
        "preferred_username": "sue",
        "groups": ["statusadmin-supervisors"],
    },
    {
        "sub": "idp-carl-0002",
        "email": "carl@example.com",
        "name": "Carl Compliance",
        "preferred_username": "carl",
        "groups": ["statusadmin-compliance"],
    },
    {
        "sub": "idp-april-0003",
        "email": "april@example.com",
        "name": "April Approver",
        "preferred_username": "april",
        "groups": ["statusadmin-approvers"],
        # Her IdP policy always asks for a one-time code.
        "amr": ["pwd", "otp", "mfa"],
    },
    {
        "sub": "idp-nora-0004",
        "email": "nora@example.com",
        "name": "Nora Nogroups",
        "preferred_username": "nora",
        "groups": [],
    },
)


class ProviderNotInstalled(RuntimeError):
    """node or the project's node_modules is missing."""


class LoginRefused(RuntimeError):
    """The provider showed its login form again, with this error."""


def check_installed(root: Path = ROOT) -> str:
    """The path of node, once node and the project's oidc-provider are both there."""
    node = shutil.which("node")
    if node is None:
        raise ProviderNotInstalled(
            "The OpenID Connect test provider needs Node.js >= 20 with npm: install it "
            "(Debian: apt-get install nodejs npm), then run make test, which runs npm ci."
        )
    if not (root / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise ProviderNotInstalled(
            f"{root / 'node_modules'} has no oidc-provider: run make test, which runs npm ci."
        )
    return node


class OidcProvider:
    """tests/oidc/provider.mjs in a node process of its own, with one client."""

    def __init__(
        self,
        *,
        redirect_uris: Sequence[str] = (DEFAULT_REDIRECT_URI,),
        accounts: Sequence[Account] = DEFAULT_ACCOUNTS,
        client_id: str = "statusadmin",
        client_secret: str = "statusadmin-test-client-secret",
        token_endpoint_auth_method: AuthMethod = "client_secret_basic",
    ) -> None:
        self.redirect_uris = list(redirect_uris)
        self.accounts = list(accounts)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_endpoint_auth_method = token_endpoint_auth_method
        self.issuer = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log: BinaryIO | None = None

    # --- the process ------------------------------------------------------------------------

    def start(self) -> Self:
        node = check_installed()
        self._workdir = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        config = self._workdir / "config.json"
        config.write_text(json.dumps(self._config()))
        self._log = (self._workdir / "provider.log").open("wb")
        # A session of its own, so stop() can end node and anything it started as one group.
        # stdin stays open as a lifeline: provider.mjs exits when it closes, which is what
        # happens however this Python ends, SIGKILL included.
        self._process = subprocess.Popen(
            [node, str(SCRIPT), str(config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        atexit.register(self.stop)
        try:
            self.issuer = self._wait_for_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _config(self) -> dict[str, object]:
        return {
            # Port 0: node takes a free port and reports the issuer it made of it, so no other
            # process can take the port between our choosing it and node binding it.
            "port": 0,
            "exit_with_stdin": True,
            "clients": [
                {
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "redirect_uris": self.redirect_uris,
                    # Signing out here ends the provider's session too, then comes back to the
                    # sign-in page of the same site.
                    "post_logout_redirect_uris": [
                        urljoin(uri, SIGNED_OUT_PATH) for uri in self.redirect_uris
                    ],
                    "token_endpoint_auth_method": self.token_endpoint_auth_method,
                }
            ],
            "accounts": self.accounts,
        }

    def _wait_for_ready(self) -> str:
        assert self._process is not None
        assert self._process.stdout is not None
        stdout = self._process.stdout
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([stdout], [], [], START_TIMEOUT)
            chunk = os.read(stdout.fileno(), 4096) if ready else b""
            if not chunk:
                why = "exited" if self._process.poll() is not None else "did not say READY"
                raise RuntimeError(f"the OpenID Connect test provider {why}:\n{self.log_tail()}")
            line += chunk
        word, _, issuer = line.decode().strip().partition(" ")
        if word != "READY":
            raise RuntimeError(f"unexpected first line from provider.mjs: {line!r}")
        return issuer

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def log_tail(self, chars: int = 4000) -> str:
        """The end of what node wrote to stderr: its warnings and errors."""
        if self._workdir is None:
            return ""
        return (self._workdir / "provider.log").read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the test switches ------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def set_groups(self, login: str, groups: Sequence[str]) -> None:
        """The account's groups from now on (login: its sub or preferred_username)."""
        self._switch({"accounts": {login: {"groups": list(groups)}}})

    def set_email(self, login: str, email: str) -> None:
        self._switch({"accounts": {login: {"email": email}}})

    def set_next_id_token(self, fault: IdTokenFault | None) -> None:
        """Spoil the ID token of the next token response (only that one); None: don't."""
        self._switch({"next_id_token": fault})

    def set_down(self, down: bool) -> None:
        """Down: every endpoint but the switches answers 503."""
        self._switch({"down": down})

    def reset(self) -> None:
        """The accounts as configured at start, no fault pending, up."""
        self._post("/__test__/reset", {})

    def _switch(self, changes: dict[str, object]) -> None:
        self._post("/__test__/config", changes)

    def _post(self, path: str, body: dict[str, object]) -> None:
        response = requests.post(self.issuer + path, json=body, timeout=5)
        response.raise_for_status()

    # --- a person at the provider's login page ----------------------------------------------

    def login(self, authorization_url: str, login: str, *, mfa: bool = False) -> str:
        """Log in at the provider as a browser would, from the authorization URL the relying
        party redirected to; returns the redirect back to the relying party (its callback URL,
        with code and state), not followed.
        """
        return self._interact(authorization_url, {"login": login} | ({"mfa": "1"} if mfa else {}))

    def confirm_sign_out(self, end_session_url: str) -> str:
        """Answer the provider's "sign out?" page as a person would; returns where it sends
        the browser back to (the relying party's post-logout URI), not followed."""
        with requests.Session() as browser:
            page = browser.get(end_session_url, timeout=10)
            page.raise_for_status()
            form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
            if form is None:
                raise RuntimeError(f"no sign-out form: {page.text[:500]}")
            fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
            fields["logout"] = "yes"
            done = browser.post(
                urljoin(page.url, unescape(form.group(1))), data=fields, allow_redirects=False,
                timeout=10,
            )  # fmt: skip
            if done.status_code not in (302, 303):
                raise RuntimeError(f"sign-out refused ({done.status_code}): {done.text[:500]}")
            return done.headers["Location"]

    def cancel(self, authorization_url: str) -> str:
        """Press Cancel on the login page; returns the redirect back (error=access_denied)."""
        return self._interact(authorization_url, {"cancel": "1"})

    def _interact(self, url: str, form: dict[str, str]) -> str:
        # A browser of its own for each login: no provider session carries over between tests.
        with requests.Session() as browser:
            submitted = False
            for _ in range(10):
                if not url.startswith(self.issuer + "/"):
                    return url
                response = browser.get(url, allow_redirects=False, timeout=5)
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code == 200 and "/interaction/" in url and not submitted:
                    response = browser.post(url, data=form, allow_redirects=False, timeout=5)
                    if not response.is_redirect:
                        raise LoginRefused(_page_error(response.text))
                    submitted = True
                    url = urljoin(url, response.headers["Location"])
                    continue
                raise RuntimeError(f"{response.status_code} from {url}:\n{response.text[:2000]}")
            raise RuntimeError(f"too many redirects, the last to {url}")


def _page_error(html: str) -> str:
    found = re.search(r'<p role="alert">(.*?)</p>', html, re.DOTALL)
    return unescape(found.group(1)) if found else html[:2000]
