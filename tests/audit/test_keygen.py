"""`manage.py audit_keygen`: new keys in files only their owner can read, never over an existing
one; the public key's fingerprint on screen, never a private key or the chain key."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from statusadmin.audit import evidence_verifier as ev


def keygen(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_keygen", *args, stdout=out)
    return out.getvalue()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class SigningKeyTests:
    def test_a_new_pair_with_its_fingerprint(self, tmp_path):
        private = tmp_path / "signing.pem"
        said = keygen("--signing-key", str(private))
        key = serialization.load_pem_private_key(private.read_bytes(), None)
        assert isinstance(key, Ed25519PrivateKey)
        assert mode(private) == 0o600
        public = ev.load_public_key((tmp_path / "signing.pub.pem").read_bytes())
        assert ev.fingerprint(public) == ev.fingerprint(key.public_key())
        fingerprint = ev.fingerprint(public)
        assert len(fingerprint) == 64
        assert f"Fingerprint: {fingerprint}\n" in said
        assert f"key id {ev.key_id(public)}" in said
        assert str(private) in said
        assert str(tmp_path / "signing.pub.pem") in said
        assert "AUDIT_SIGNING_KEY_FILE" in said
        assert "--fingerprint" in said
        # Nothing of the private key is shown, in any encoding.
        body = "".join(private.read_text().splitlines()[1:-1])
        assert body not in said
        assert key.private_bytes_raw().hex() not in said
        assert "PRIVATE" not in said

    def test_two_runs_make_two_different_keys(self, tmp_path):
        first = keygen("--signing-key", str(tmp_path / "a.pem"))
        second = keygen("--signing-key", str(tmp_path / "b.pem"))
        assert first.split("Fingerprint: ")[1][:64] != second.split("Fingerprint: ")[1][:64]

    def test_by_default_here(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        keygen()
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "audit-signing.pem", "audit-signing.pub.pem",
        ]  # fmt: skip

    @pytest.mark.parametrize("existing", ["signing.pem", "signing.pub.pem"])
    def test_never_over_an_existing_file(self, tmp_path, existing):
        (tmp_path / existing).write_text("the key in use")
        with pytest.raises(CommandError, match="never replaces a key"):
            keygen("--signing-key", str(tmp_path / "signing.pem"))
        assert (tmp_path / existing).read_text() == "the key in use"
        assert [p.name for p in tmp_path.iterdir()] == [existing]

    def test_a_folder_that_is_not_there(self, tmp_path):
        with pytest.raises(CommandError, match="can't write"):
            keygen("--signing-key", str(tmp_path / "absent" / "signing.pem"))


class ChainKeyTests:
    def test_a_chain_key_alone(self, tmp_path):
        path = tmp_path / "chain-key"
        said = keygen("--chain-key", str(path))
        key = path.read_text()
        assert len(key.strip()) >= 32
        assert mode(path) == 0o600
        assert key.strip() not in said
        assert str(path) in said
        assert "AUDIT_CHAIN_KEY_FILE" in said
        assert [p.name for p in tmp_path.iterdir()] == ["chain-key"]

    def test_both_at_once(self, tmp_path):
        keygen("--chain-key", str(tmp_path / "chain"), "--signing-key", str(tmp_path / "s.pem"))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["chain", "s.pem", "s.pub.pem"]

    def test_never_over_an_existing_chain_key(self, tmp_path):
        (tmp_path / "chain").write_text("the key in use")
        with pytest.raises(CommandError, match="never replaces a key"):
            keygen("--chain-key", str(tmp_path / "chain"), "--signing-key", str(tmp_path / "s"))
        # Checked before anything is written: no signing key made beside the refusal.
        assert [p.name for p in tmp_path.iterdir()] == ["chain"]
