"""Signed checkpoints: Ed25519 over (seq, hash, at, count, keyed, key id), key rotation, and
what verify_audit says about unsigned ones, bad signatures and unknown keys."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from statusadmin.audit import evidence_verifier as ev
from statusadmin.audit.models import AuditEntry, Checkpoint, Verification
from tests.factories import add_entry
from tests.helpers import raw, verify_exit

pytestmark = pytest.mark.django_db


def checkpoint() -> str:
    err = io.StringIO()
    call_command("audit_checkpoint", stderr=err)
    return err.getvalue()


def lines(settings) -> list[dict]:  # type: ignore[no-untyped-def]
    text = Path(settings.AUDIT_CHECKPOINT_FILE).read_text()
    return [json.loads(line) for line in text.splitlines()]


def rewrite_lines(settings, records: list[dict]) -> None:  # type: ignore[no-untyped-def]
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    Path(settings.AUDIT_CHECKPOINT_FILE).write_text(text)


def pem_of(key: Ed25519PrivateKey) -> bytes:
    return ev.public_key_pem(key.public_key()).encode()


class SigningTests:
    def test_a_checkpoint_is_signed_over_what_it_says(self, signing_key, settings, chain_key):
        add_entry()
        add_entry()
        said = checkpoint()
        [line] = lines(settings)
        key_id = ev.key_id(signing_key.public_key())
        assert {k: line[k] for k in ("seq", "count", "keyed", "key_id")} == {
            "seq": 2, "count": 2, "keyed": True, "key_id": key_id,
        }  # fmt: skip
        assert f"signed with key {key_id}" in said
        public = {key_id: signing_key.public_key()}
        assert ev.check_signature(line, public) == ev.VALID
        for name, forged in (("seq", 1), ("hash", "0" * 64), ("at", "2020-01-01"), ("count", 9)):
            assert ev.check_signature({**line, name: forged}, public) == ev.BAD, name
        copy = Checkpoint.objects.get()
        assert (copy.key_id, copy.signature, copy.at) == (key_id, line["sig"], line["at"])

    @pytest.mark.usefixtures("no_audit_keys")
    def test_without_a_key_it_is_unsigned_and_says_so(self, settings):
        add_entry()
        assert "unsigned (no AUDIT_SIGNING_KEY_FILE)" in checkpoint()
        assert "sig" not in lines(settings)[0]
        status, said = verify_exit()
        assert status == 0, said
        assert "that checkpoint is unsigned (no AUDIT_SIGNING_KEY_FILE)" in said

    def test_a_signed_checkpoint_confirms_the_chain(self, signing_key):
        add_entry()
        checkpoint()
        status, said = verify_exit()
        assert status == 0, said
        key_id = ev.key_id(signing_key.public_key())
        assert f"confirmed by a checkpoint signed with key {key_id}" in said
        assert "unsigned" not in said

    def test_an_unreadable_key_stops_the_checkpoint_without_quoting_it(self, settings, tmp_path):
        path = tmp_path / "broken.pem"
        path.write_text(
            "-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRET\n-----END PRIVATE KEY-----\n"
        )
        settings.AUDIT_SIGNING_KEY_FILE = str(path)
        with pytest.raises(Exception, match="AUDIT_SIGNING_KEY_FILE") as exc:
            checkpoint()
        assert "not-a-key-SECRET" not in str(exc.value)
        assert not Path(settings.AUDIT_CHECKPOINT_FILE).exists()


class ForgedCheckpointTests:
    def test_an_altered_signed_line_is_tampering(self, signing_key, settings):
        add_entry()
        add_entry()
        checkpoint()
        [line] = lines(settings)
        rewrite_lines(settings, [{**line, "seq": 1, "hash": add_entry_hash(1)}])
        status, said = verify_exit()
        assert status == 1
        key_id = ev.key_id(signing_key.public_key())
        assert f"carries a signature that does not match key {key_id}" in said
        assert "it was altered or forged" in said

    def test_a_forged_database_copy_is_tampering(self, signing_key, settings):
        add_entry()
        checkpoint()
        raw("UPDATE audit_checkpoint SET count = 7")
        status, said = verify_exit()
        assert status == 1
        assert "kept in the database carries a signature that does not match" in said

    def test_a_line_signed_with_an_unknown_key_is_not_used(self, signing_key, settings):
        add_entry()
        stranger = Ed25519PrivateKey.generate()  # the forger signs with a key of their own
        forged = ev.sign_checkpoint(
            stranger, {"seq": 1, "hash": add_entry_hash(1), "at": "x", "count": 1, "keyed": False}
        )
        rewrite_lines(settings, [forged])
        status, said = verify_exit()
        assert status == 2  # nothing usable covers the log
        assert f"signed with unknown key {ev.key_id(stranger.public_key())} were not used" in said

    def test_an_unknown_key_beside_a_good_checkpoint_is_not_fully_checked(
        self, signing_key, settings
    ):
        add_entry()
        checkpoint()
        stranger = Ed25519PrivateKey.generate()
        forged = ev.sign_checkpoint(
            stranger, {"seq": 1, "hash": add_entry_hash(1), "at": "x", "count": 1, "keyed": False}
        )
        with Path(settings.AUDIT_CHECKPOINT_FILE).open("a") as handle:
            handle.write(json.dumps(forged) + "\n")
        status, said = verify_exit()
        assert status == 4
        assert "Audit log not fully checked" in said
        assert Verification.objects.get().state == "unchecked"


class RotationTests:
    def test_checkpoints_of_a_retired_key_stay_verifiable(self, signing_key, settings, tmp_path):
        add_entry()
        checkpoint()
        old_id = ev.key_id(signing_key.public_key())
        # Rotate: a new private key, the old public key kept in the folder.
        retired = tmp_path / "public"
        retired.mkdir()
        (retired / f"{old_id}.pem").write_bytes(pem_of(signing_key))
        new_key = Ed25519PrivateKey.generate()
        new_file = tmp_path / "new.pem"
        new_file.write_bytes(
            new_key.private_bytes(
                ev.serialization.Encoding.PEM,
                ev.serialization.PrivateFormat.PKCS8,
                ev.serialization.NoEncryption(),
            )
        )
        settings.AUDIT_SIGNING_KEY_FILE = str(new_file)
        settings.AUDIT_PUBLIC_KEYS_DIR = str(retired)
        add_entry()
        checkpoint()
        assert [line["key_id"] for line in lines(settings)] == [
            old_id,
            ev.key_id(new_key.public_key()),
        ]
        status, said = verify_exit()
        assert status == 0, said
        # Without the retired key its checkpoint can't be checked, and that is said.
        settings.AUDIT_PUBLIC_KEYS_DIR = ""
        status, said = verify_exit()
        assert status == 4
        assert f"unknown key {old_id}" in said


def add_entry_hash(seq: int) -> str:
    return AuditEntry.objects.get(seq=seq).hash


class KeyPlacementTests:
    def test_a_key_beside_the_checkpoints_is_warned_about(self, settings, tmp_path):
        from statusadmin.audit.checks import signing_key_apart

        settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "cp" / "checkpoints.jsonl")
        settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "cp" / "signing.pem")
        [warning] = signing_key_apart()
        assert warning.id == "audit.W001"
        settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "secrets" / "signing.pem")
        assert signing_key_apart() == []

    def test_the_development_key_beside_them_is_not(self, settings, tmp_path):
        from statusadmin.audit.checks import signing_key_apart

        # make run keeps everything in the data folder: the development key protects nothing.
        settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
        settings.AUDIT_DEV_KEYS_DIR = tmp_path / "dev-keys"
        settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "dev-keys" / "audit-signing.pem")
        assert signing_key_apart() == []


class IntegrityPanelTests:
    """What verify_audit says, the panel shows after "Verify now"."""

    HX = {"HTTP_HX_REQUEST": "true"}

    def verify_on_the_panel(self, client, admin_user) -> str:  # type: ignore[no-untyped-def]
        client.force_login(admin_user)
        return client.post("/audit/verify/", **self.HX).content.decode()

    def test_tags_that_cant_be_checked(self, client, admin_user, chain_key, settings):
        add_entry()
        checkpoint()
        settings.AUDIT_CHAIN_KEY = ""
        html = self.verify_on_the_panel(client, admin_user)
        assert "Not fully checked: part of the evidence couldn't be checked here" in html
        assert "1 entry carries a chain-key tag that can&#x27;t be checked here" in html

    def test_a_bad_signature(self, client, admin_user, signing_key):
        add_entry()
        checkpoint()
        raw("UPDATE audit_checkpoint SET count = 7")
        html = self.verify_on_the_panel(client, admin_user)
        assert '<span class="bad">Chain broken</span>' in html
        assert "carries a signature that does not match key" in html

    @pytest.mark.usefixtures("no_audit_keys")
    def test_an_unknown_key_and_an_unsigned_checkpoint(self, client, admin_user, settings):
        add_entry()
        checkpoint()  # unsigned: no key yet
        stranger = Ed25519PrivateKey.generate()
        forged = ev.sign_checkpoint(
            stranger, {"seq": 1, "hash": add_entry_hash(1), "at": "x", "count": 1, "keyed": False}
        )
        with Path(settings.AUDIT_CHECKPOINT_FILE).open("a") as handle:
            handle.write(json.dumps(forged) + "\n")
        html = self.verify_on_the_panel(client, admin_user)
        assert "that checkpoint is unsigned (no AUDIT_SIGNING_KEY_FILE)" in html
        assert f"unknown key {ev.key_id(stranger.public_key())} were not used" in html
        assert '<span class="warn">unsigned</span>' in html


class KeyFileTests:
    """A key file that can't be used says which, and why, without printing the key."""

    def test_a_signing_key_that_is_not_ed25519(self, settings, tmp_path):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from django.core.exceptions import ImproperlyConfigured

        from statusadmin.audit import keys

        path = tmp_path / "ec.pem"
        path.write_bytes(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        settings.AUDIT_SIGNING_KEY_FILE = str(path)
        with pytest.raises(ImproperlyConfigured) as exc:
            keys.signing_key()
        assert str(exc.value) == f"AUDIT_SIGNING_KEY_FILE ({path}) is not an Ed25519 key."

    def test_an_unreadable_signing_key(self, settings, tmp_path):
        from django.core.exceptions import ImproperlyConfigured

        from statusadmin.audit import keys

        path = tmp_path / "garbage.pem"
        path.write_text("not a key")
        settings.AUDIT_SIGNING_KEY_FILE = str(path)
        with pytest.raises(ImproperlyConfigured) as exc:
            keys.signing_key()
        assert str(exc.value) == (
            f"AUDIT_SIGNING_KEY_FILE ({path}) can't be read as an unencrypted PEM private key "
            "(ValueError)."
        )

    def test_a_public_key_that_is_not_one(self, settings, tmp_path):
        from django.core.exceptions import ImproperlyConfigured

        from statusadmin.audit import keys

        (tmp_path / "old.pem").write_text("nonsense")
        settings.AUDIT_PUBLIC_KEYS_DIR = str(tmp_path)
        with pytest.raises(ImproperlyConfigured) as exc:
            keys.public_keys()
        assert str(exc.value).startswith(
            f"{tmp_path / 'old.pem'} in AUDIT_PUBLIC_KEYS_DIR is not an Ed25519 public key ("
        )
