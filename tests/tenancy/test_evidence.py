"""An account's evidence bundle holds its own entries only: another account's are withheld
(their hashes keep the one chain checkable), and the verifier says so."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command

from statusadmin.audit import evidence_verifier as ev
from statusadmin.audit.evidence import write_bundle
from statusadmin.audit.models import AuditEntry
from statusadmin.convoso import tenancy
from tests import tokens
from tests.factories import add_entry

DAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
GENUINE = ev.fingerprint(tokens.SIGNING_KEY.public_key())


@pytest.fixture
def interleaved(east, west, chain_key, signing_key):  # type: ignore[no-untyped-def]
    for i in range(6):
        account = "west" if i % 2 else "east"
        add_entry(
            at=DAY + timedelta(minutes=i), account=account, actor=f"{account}-person{i}",
            reason=f"{account} secret reason {i}", code="WSECRET" if account == "west" else "HOT",
        )  # fmt: skip
    call_command("audit_checkpoint", stderr=io.StringIO())


def made(account: tenancy.Account, tmp_path) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    out = tmp_path / f"{account.slug}.zip"
    with tenancy.use(account), out.open("wb") as handle:
        write_bundle(handle, date(2026, 3, 10), date(2026, 3, 10))
    return zipfile.ZipFile(out)


class AccountBundleTests:
    def test_nothing_of_another_account_is_in_the_bundle(self, interleaved, east, tmp_path):
        archive = made(east, tmp_path)
        for name in archive.namelist():
            body = archive.read(name)
            for secret in (b"west secret reason", b"WSECRET", b"west-person"):
                assert secret not in body, (name, secret)
        [entries] = [n for n in archive.namelist() if n.endswith("entries.jsonl")]
        lines = [line for line in archive.read(entries).decode().splitlines()]
        withheld = [json.loads(line) for line in lines if '"withheld": true' in line]
        # Every west entry in the bundle's range (its three, and the copy of its catalogue
        # made when the account was added), and no east one.
        seqs = [line["seq"] for line in withheld]
        accounts = AuditEntry.objects.filter(seq__in=seqs).values_list("account", flat=True)
        assert len(seqs) >= 3
        assert set(accounts) == {"west"}
        assert all(set(line) == {"seq", "hash", "prev_hash", "mac", "in_period", "withheld"}
                   for line in withheld)  # fmt: skip

    def test_it_verifies_and_says_what_was_withheld(self, interleaved, east, tmp_path):
        archive = made(east, tmp_path)
        verdict = ev.verify_bundle(tmp_path / "east.zip", fingerprints=[GENUINE])
        assert verdict.status == ev.VERIFIED, verdict.summary
        assert "verified: 3 entries of the period" in verdict.summary
        [entries] = [n for n in archive.namelist() if n.endswith("entries.jsonl")]
        withheld = archive.read(entries).count(b'"withheld": true')
        assert any(
            f"{withheld} entries of other Convoso accounts are withheld" in note
            for note in verdict.notes
        ), verdict.notes

    def test_a_withheld_entrys_hash_altered_breaks_the_chain(self, interleaved, east, tmp_path):
        archive = made(east, tmp_path)
        folder = tmp_path / "out"
        archive.extractall(folder)
        [root] = folder.iterdir()
        path = root / "entries.jsonl"
        lines = path.read_text().splitlines()
        index = next(i for i, line in enumerate(lines) if '"withheld": true' in line)
        lines[index] = lines[index].replace('"hash": "', '"hash": "0', 1)
        path.write_text("\n".join(lines) + "\n")
        verdict = ev.verify_bundle(root, fingerprints=[GENUINE])
        assert verdict.status == ev.FAILED
        assert "does not follow entry" in verdict.summary

    def test_the_command_makes_an_accounts_bundle(self, interleaved, tmp_path):
        out = tmp_path / "west.zip"
        call_command(
            "audit_evidence", "--from", "2026-03-10", "--to", "2026-03-10", "--account", "west",
            str(out), stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
        body = b"".join(zipfile.ZipFile(out).read(n) for n in zipfile.ZipFile(out).namelist())
        assert b"west secret reason" in body
        assert b"east secret reason" not in body
