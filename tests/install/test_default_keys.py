"""`make run` on a fresh clone, as a developer meets it: no key settings at all, an empty data
folder, DJANGO_DEBUG=1. Every step is a new process of manage.py (or of the bundle's own
verify.py), so nothing this test suite configures can help it along.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from statusadmin.audit import evidence_verifier as ev

ROOT = Path(__file__).resolve().parents[2]
# A status edit by the demo supervisor, as the screen would send it.
EDIT = (
    "from django.contrib.auth import get_user_model; "
    "from statusadmin.statuses.services import status_update; "
    "status_update(actor=get_user_model().objects.get(username='supervisor'), code='XFER', "
    "changes={'callback': 'Y'})"
)


def fresh_environment(data: Path) -> dict[str, str]:
    """This process's environment without a single setting of the project's, then a fresh data
    folder and development mode: what `make run` gives a new clone."""
    ours = ("DJANGO_", "AUDIT_", "DATABASE_", "CACHE_URL", "CONVOSO_", "TASKS_", "STATUSADMIN_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**clean, "STATUSADMIN_DATA_DIR": str(data), "DJANGO_DEBUG": "1"}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


class OutOfTheBoxTests:
    def test_make_run_then_evidence_then_the_bundles_own_verifier(self, tmp_path):
        data = tmp_path / "data"
        env = fresh_environment(data)
        for step in (
            ["migrate", "--noinput"],
            ["seed_demo"],
            ["audit_checkpoint"],  # what `make run` does at each start
            ["shell", "-c", EDIT],
            ["audit_checkpoint"],  # what the worker does every AUDIT_CHECKPOINT_EVERY
        ):
            done = manage(env, *step)
            assert done.returncode == 0, (step, done.stdout, done.stderr)
        assert "signed with key" in done.stderr, done.stderr

        keys = sorted((data / "dev-keys").iterdir())
        assert [p.name for p in keys] == [
            "audit-chain-key",
            "audit-signing.pem",
            "convoso-token-key",
        ]
        for path in keys:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

        today = date.today()
        out = tmp_path / "bundle.zip"
        period = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]
        done = manage(env, "audit_evidence", *period, str(out))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "verified: 1 entry of the period" in done.stdout
        fingerprint = done.stdout.split("python verify.py --fingerprint ")[1].split()[0]
        dev_key = load_pem_private_key((data / "dev-keys" / "audit-signing.pem").read_bytes(), None)
        assert fingerprint == ev.fingerprint(dev_key.public_key())  # type: ignore[arg-type]

        with zipfile.ZipFile(out) as archive:
            archive.extractall(tmp_path / "extracted")
        [folder] = (tmp_path / "extracted").iterdir()
        plain = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

        def verify(*pin: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-I", "verify.py", *pin], cwd=folder, env=plain,
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip

        unpinned = verify()
        assert unpinned.returncode == 3, unpinned.stdout + unpinned.stderr
        assert f"checkpoints checked with key {fingerprint}" in unpinned.stdout
        assert unpinned.stdout.splitlines()[-1].startswith("verified, but NOT PINNED: 1 entry")
        pinned = verify("--fingerprint", fingerprint)
        assert pinned.returncode == 0, pinned.stdout + pinned.stderr
        assert pinned.stdout.splitlines()[-1].startswith("verified: 1 entry of the period")
