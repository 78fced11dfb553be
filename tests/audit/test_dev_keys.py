"""Development keys: with DJANGO_DEBUG=1 and no key configured, a chain key and a signing key of
its own under the data folder, made once (mode 0600), the same for every process that starts
at the same time; never when a key is configured, never in production."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization

from statusadmin.audit import keyfiles

ROOT = Path(__file__).resolve().parents[2]
# Prints what a process's settings resolved the two keys to (digests: keys stay off screens).
SHOW = (
    "import hashlib, statusadmin.settings as s; "
    "print(hashlib.sha256(s.AUDIT_CHAIN_KEY.encode()).hexdigest(), s.AUDIT_SIGNING_KEY_FILE and "
    "hashlib.sha256(open(s.AUDIT_SIGNING_KEY_FILE, 'rb').read()).hexdigest())"
)


def settings_of(data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AUDIT_"))}
    return subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "STATUSADMIN_DATA_DIR": str(data), "DJANGO_DEBUG": "1", **env},
    )  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class WriteNewTests:
    def test_written_whole_for_its_owner_only(self, tmp_path):
        path = tmp_path / "key"
        keyfiles.write_new(path, b"secret bytes")
        assert path.read_bytes() == b"secret bytes"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["key"]

    def test_never_replaces_a_file(self, tmp_path):
        path = tmp_path / "key"
        path.write_bytes(b"the old key")
        with pytest.raises(FileExistsError):
            keyfiles.write_new(path, b"a new key")
        assert path.read_bytes() == b"the old key"
        assert [p.name for p in tmp_path.iterdir()] == ["key"]


class DevelopmentKeyTests:
    def test_made_once_then_read(self, tmp_path):
        path = tmp_path / "dev-keys" / "k"
        made = keyfiles.development_key(path, lambda: b"first")
        assert made == b"first"
        assert keyfiles.development_key(path, lambda: b"second") == b"first"
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    def test_a_process_that_wrote_first_wins(self, tmp_path):
        path = tmp_path / "k"

        def another_process_writes_first() -> bytes:
            # Between our look and our write, someone else wrote the key.
            keyfiles.write_new(path, b"theirs")
            return b"ours"

        assert keyfiles.development_key(path, another_process_writes_first) == b"theirs"
        assert path.read_bytes() == b"theirs"
        assert [p.name for p in tmp_path.iterdir()] == ["k"]


class SettingsTests:
    def test_first_start_makes_both_keys(self, tmp_path):
        data = tmp_path / "data"
        done = settings_of(data)
        assert done.returncode == 0, done.stderr
        chain, signing = done.stdout.split()
        folder = data / "dev-keys"
        assert chain == sha256(folder / "audit-chain-key")
        assert signing == sha256(folder / "audit-signing.pem")
        key = serialization.load_pem_private_key((folder / "audit-signing.pem").read_bytes(), None)
        assert type(key).__name__ == "Ed25519PrivateKey"
        assert len((folder / "audit-chain-key").read_text().strip()) >= 32
        # The next start uses them.
        assert settings_of(data).stdout == done.stdout

    def test_processes_starting_together_get_the_same_keys(self, tmp_path):
        data = tmp_path / "data"
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: settings_of(data), range(8)))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        assert len({r.stdout for r in results}) == 1
        assert sorted(p.name for p in (data / "dev-keys").iterdir()) == [
            "audit-chain-key", "audit-signing.pem", "convoso-token-key",
        ]  # fmt: skip

    def test_configured_keys_are_used_and_none_are_made(self, tmp_path):
        data = tmp_path / "data"
        signing = tmp_path / "signing.pem"
        keyfiles.write_new(signing, b"not read by settings")
        done = settings_of(
            data, AUDIT_CHAIN_KEY="c" * 40, AUDIT_SIGNING_KEY_FILE=str(signing),
            CONVOSO_TOKEN_KEYS=Fernet.generate_key().decode(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [
            hashlib.sha256(b"c" * 40).hexdigest(), sha256(signing)
        ]  # fmt: skip
        assert not (data / "dev-keys").exists()

    def test_never_in_production(self, tmp_path):
        data = tmp_path / "data"
        done = settings_of(
            data, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="s" * 50, DJANGO_ALLOWED_HOSTS="x.example"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [hashlib.sha256(b"").hexdigest()]
        assert not (data / "dev-keys").exists()

    def test_a_data_folder_that_cant_be_written_is_said(self, tmp_path):
        data = tmp_path / "data"
        data.write_text("a file where the folder should be")
        done = settings_of(data, DATABASE_URL="postgres://nobody@127.0.0.1:5432/unused")
        assert done.returncode != 0
        assert f"can't create the development audit keys in {data / 'dev-keys'}" in done.stderr
