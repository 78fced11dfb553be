"""The loopback OpenID Connect provider is a real one: the test below plays the relying party
with nothing but requests and PyJWT, as allauth will, and checks what a relying party checks.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.oidc.server import (
    CALLBACK_PATH,
    DEFAULT_REDIRECT_URI,
    ROOT,
    LoginRefused,
    OidcProvider,
    ProviderNotInstalled,
    check_installed,
)


@dataclass
class RelyingParty:
    """One authorization request, with its own state, nonce and PKCE verifier."""

    idp: OidcProvider
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scope: str = "openid email profile groups"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @cached_property
    def discovery(self) -> dict[str, Any]:
        return requests.get(self.idp.discovery_url, timeout=5).json()

    def authorization_url(self, **overrides: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest())
        params = {
            "response_type": "code",
            "client_id": self.idp.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            **overrides,
        }
        params = {key: value for key, value in params.items() if value}
        return f"{self.discovery['authorization_endpoint']}?{urlencode(params)}"

    def code_from(self, callback: str) -> str:
        assert callback.startswith(self.redirect_uri + "?"), callback
        query = parse_qs(urlsplit(callback).query)
        assert query["state"] == [self.state]
        assert query["iss"] == [self.idp.issuer]
        return query["code"][0]

    def exchange(
        self, code: str, *, verifier: str | None = None, secret: str | None = None
    ) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier or self.verifier,
        }
        credentials = (self.idp.client_id, secret or self.idp.client_secret)
        auth = None
        if self.idp.token_endpoint_auth_method == "client_secret_post":
            form |= {"client_id": credentials[0], "client_secret": credentials[1]}
        else:
            auth = credentials
        return requests.post(self.discovery["token_endpoint"], data=form, auth=auth, timeout=5)

    def tokens(self, login: str, *, mfa: bool = False) -> dict[str, Any]:
        response = self.exchange(
            self.code_from(self.idp.login(self.authorization_url(), login, mfa=mfa))
        )
        assert response.status_code == 200, response.text
        return response.json()

    def verify(self, id_token: str, *, audience: str | None = None) -> dict[str, Any]:
        """What a relying party must do: the key from the provider's JWKS, then every claim."""
        key = jwt.PyJWKClient(self.discovery["jwks_uri"]).get_signing_key_from_jwt(id_token)
        return jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=audience or self.idp.client_id,
            issuer=self.idp.issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "nonce"]},
        )


@pytest.fixture
def rp(oidc_provider: OidcProvider) -> RelyingParty:
    return RelyingParty(oidc_provider)


class DiscoveryTests:
    def test_discovery_names_the_issuer_and_its_endpoints(self, oidc_provider):
        response = requests.get(oidc_provider.discovery_url, timeout=5)
        assert response.status_code == 200
        doc = response.json()
        assert oidc_provider.issuer.startswith("http://127.0.0.1:")
        assert doc["issuer"] == oidc_provider.issuer
        for endpoint in (
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
        ):
            assert doc[endpoint].startswith(oidc_provider.issuer + "/"), endpoint
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert doc["response_types_supported"] == ["code"]
        assert "RS256" in doc["id_token_signing_alg_values_supported"]
        assert {"openid", "email", "profile", "groups"} <= set(doc["scopes_supported"])
        assert {"groups", "amr", "email"} <= set(doc["claims_supported"])

    def test_jwks_serves_an_rsa_public_key_and_nothing_private(self, rp):
        keys = requests.get(rp.discovery["jwks_uri"], timeout=5).json()["keys"]
        assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [("RSA", "RS256", "sig")]
        assert {"n", "e", "kid"} <= set(keys[0])
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


class AuthorizationCodeFlowTests:
    def test_a_login_gives_a_verified_id_token_with_groups_and_nonce(self, rp):
        tokens = rp.tokens("sue")
        claims = rp.verify(tokens["id_token"])
        assert claims["sub"] == "idp-sue-0001"
        assert claims["aud"] == rp.idp.client_id
        assert claims["nonce"] == rp.nonce
        assert claims["groups"] == ["statusadmin-supervisors"]
        assert claims["email"] == "sue@example.com"
        assert claims["email_verified"] is True
        assert claims["preferred_username"] == "sue"
        assert claims["amr"] == ["pwd"]

    def test_the_sub_logs_in_as_well_as_the_username(self, rp):
        claims = rp.verify(rp.tokens("idp-carl-0002")["id_token"])
        assert claims["preferred_username"] == "carl"
        assert claims["groups"] == ["statusadmin-compliance"]

    def test_mfa_at_the_idp_shows_in_amr(self, rp):
        assert rp.verify(rp.tokens("sue", mfa=True)["id_token"])["amr"] == ["pwd", "mfa"]

    def test_an_accounts_own_amr_is_used_without_the_box(self, rp):
        assert rp.verify(rp.tokens("april")["id_token"])["amr"] == ["pwd", "otp", "mfa"]

    def test_userinfo_carries_groups_and_email(self, rp):
        tokens = rp.tokens("carl")
        response = requests.get(
            rp.discovery["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=5,
        )
        assert response.status_code == 200
        info = response.json()
        assert info["sub"] == "idp-carl-0002"
        assert info["groups"] == ["statusadmin-compliance"]
        assert info["email"] == "carl@example.com"

    def test_without_pkce_the_request_is_refused(self, rp):
        response = requests.get(
            rp.authorization_url(code_challenge="", code_challenge_method=""),
            allow_redirects=False,
            timeout=5,
        )
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "PKCE" in query["error_description"][0]

    def test_a_wrong_code_verifier_is_refused(self, rp):
        code = rp.code_from(rp.idp.login(rp.authorization_url(), "sue"))
        response = rp.exchange(code, verifier=secrets.token_urlsafe(48))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    def test_a_code_is_good_once(self, rp):
        code = rp.code_from(rp.idp.login(rp.authorization_url(), "sue"))
        assert rp.exchange(code).status_code == 200
        assert rp.exchange(code).json()["error"] == "invalid_grant"

    def test_cancel_sends_access_denied_back_with_the_state(self, rp):
        callback = rp.idp.cancel(rp.authorization_url())
        assert callback.startswith(DEFAULT_REDIRECT_URI + "?")
        query = parse_qs(urlsplit(callback).query)
        assert query["error"] == ["access_denied"]
        assert query["state"] == [rp.state]
        assert "code" not in query

    def test_an_unknown_login_shows_the_form_again_with_an_error(self, rp):
        with pytest.raises(LoginRefused, match="No account"):
            rp.idp.login(rp.authorization_url(), "mallory")

    def test_an_unregistered_redirect_uri_is_refused_at_the_idp(self, rp):
        rp.redirect_uri = "http://testserver/elsewhere/"
        with pytest.raises(RuntimeError, match="redirect_uri"):
            rp.idp.login(rp.authorization_url(), "sue")


class SwitchTests:
    def test_changed_groups_reach_the_next_id_token_and_userinfo(self, rp):
        rp.idp.set_groups("sue", ["statusadmin-approvers", "elsewhere"])
        tokens = rp.tokens("sue")
        assert rp.verify(tokens["id_token"])["groups"] == ["statusadmin-approvers", "elsewhere"]
        info = requests.get(
            rp.discovery["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=5,
        ).json()
        assert info["groups"] == ["statusadmin-approvers", "elsewhere"]

    def test_changed_email_reaches_the_next_id_token(self, rp):
        rp.idp.set_email("idp-sue-0001", "sue.new@example.com")
        assert rp.verify(rp.tokens("sue")["id_token"])["email"] == "sue.new@example.com"

    def test_reset_restores_the_configured_accounts(self, rp):
        rp.idp.set_groups("sue", [])
        rp.idp.reset()
        assert rp.verify(rp.tokens("sue")["id_token"])["groups"] == ["statusadmin-supervisors"]

    def test_a_switch_for_an_unknown_account_is_an_error(self, oidc_provider):
        with pytest.raises(requests.HTTPError):
            oidc_provider.set_groups("mallory", ["x"])

    def test_bad_signature_fails_against_the_real_jwks(self, rp):
        rp.idp.set_next_id_token("bad_signature")
        id_token = rp.tokens("sue")["id_token"]
        real_kid = requests.get(rp.discovery["jwks_uri"], timeout=5).json()["keys"][0]["kid"]
        assert jwt.get_unverified_header(id_token)["kid"] == real_kid
        with pytest.raises(jwt.InvalidSignatureError):
            rp.verify(id_token)

    def test_an_unknown_key_is_not_in_the_jwks(self, rp):
        rp.idp.set_next_id_token("unknown_key")
        with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
            rp.verify(rp.tokens("sue")["id_token"])

    def test_wrong_audience(self, rp):
        rp.idp.set_next_id_token("wrong_audience")
        id_token = rp.tokens("sue")["id_token"]
        with pytest.raises(jwt.InvalidAudienceError):
            rp.verify(id_token)
        audience = jwt.decode(id_token, options={"verify_signature": False})["aud"]
        assert audience != rp.idp.client_id
        assert rp.verify(id_token, audience=audience)["sub"] == "idp-sue-0001", "only aud is wrong"

    def test_expired(self, rp):
        rp.idp.set_next_id_token("expired")
        id_token = rp.tokens("sue")["id_token"]
        with pytest.raises(jwt.ExpiredSignatureError):
            rp.verify(id_token)
        claims = jwt.decode(id_token, options={"verify_signature": False})
        assert claims["iat"] < claims["exp"] < time.time()

    def test_wrong_nonce(self, rp):
        rp.idp.set_next_id_token("wrong_nonce")
        claims = rp.verify(rp.tokens("sue")["id_token"])
        assert claims["nonce"] != rp.nonce
        assert claims["sub"] == "idp-sue-0001"

    def test_a_fault_spoils_only_the_next_token_response(self, rp):
        rp.idp.set_next_id_token("bad_signature")
        with pytest.raises(jwt.InvalidSignatureError):
            rp.verify(rp.tokens("sue")["id_token"])
        assert rp.verify(rp.tokens("sue")["id_token"])["sub"] == "idp-sue-0001"

    def test_an_unknown_fault_is_an_error(self, oidc_provider):
        with pytest.raises(requests.HTTPError):
            oidc_provider.set_next_id_token("garbled")  # type: ignore[arg-type]

    def test_idp_down_answers_503_everywhere_until_it_is_back(self, rp):
        jwks_uri = rp.discovery["jwks_uri"]
        rp.idp.set_down(True)
        for url in (rp.idp.discovery_url, jwks_uri, rp.idp.issuer + "/interaction/x"):
            assert requests.get(url, timeout=5).status_code == 503, url
        rp.idp.set_down(False)
        assert requests.get(rp.idp.discovery_url, timeout=5).status_code == 200


class ProcessTests:
    def test_client_secret_post_and_an_added_redirect_uri(self):
        live = "http://127.0.0.1:9" + CALLBACK_PATH
        with OidcProvider(
            redirect_uris=[DEFAULT_REDIRECT_URI, live],
            token_endpoint_auth_method="client_secret_post",
        ) as idp:
            rp = RelyingParty(idp, redirect_uri=live)
            assert rp.verify(rp.tokens("nora")["id_token"])["groups"] == []
            code = rp.code_from(idp.login(rp.authorization_url(), "nora"))
            refused = rp.exchange(code, secret="not-the-secret")
            assert refused.status_code == 401
            assert refused.json()["error"] == "invalid_client"

    def test_stop_ends_the_node_process(self):
        idp = OidcProvider().start()
        pid = idp.pid
        idp.stop()
        assert not alive(pid)
        with pytest.raises(requests.ConnectionError):
            requests.get(idp.discovery_url, timeout=5)

    def test_node_goes_when_the_python_that_started_it_is_killed(self, tmp_path):
        script = (
            "import os, signal\n"
            "from tests.oidc.server import OidcProvider\n"
            "print(OidcProvider().start().pid, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        # TMPDIR: the killed Python cannot remove its work directory; let pytest do it.
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "TMPDIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == -signal.SIGKILL, done.stderr
        pid = int(done.stdout)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid)

    def test_missing_node_modules_says_to_run_make_test(self, tmp_path):
        with pytest.raises(ProviderNotInstalled, match="run make test, which runs npm ci"):
            check_installed(tmp_path)

    def test_missing_node_says_to_install_it(self, monkeypatch):
        monkeypatch.setenv("PATH", "/nonexistent")
        with pytest.raises(ProviderNotInstalled, match=r"Node\.js >= 20"):
            check_installed(ROOT)


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
