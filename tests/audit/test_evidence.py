"""Evidence bundles: what goes in (and what never does), the standalone verifier's verdicts on a
good bundle and on every kind of tampering, the button, and a run in a clean virtualenv."""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
import zipfile
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from statusadmin.audit import evidence_verifier as ev
from statusadmin.audit import keyfiles
from statusadmin.audit.evidence import write_bundle
from statusadmin.audit.models import AuditEntry
from tests import tokens
from tests.factories import add_entry, snapshot

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
VERIFIER = Path(ev.__file__)
GENUINE = ev.fingerprint(tokens.SIGNING_KEY.public_key())


def checkpoint() -> None:
    call_command("audit_checkpoint", stderr=io.StringIO())


def bundle(tmp_path: Path, start: str = "2026-03-10", end: str = "2026-03-10") -> Path:
    """Write the bundle (evidence.zip in tmp_path); return the folder it extracts to."""
    out = tmp_path / "evidence.zip"
    with out.open("wb") as handle:
        write_bundle(handle, date.fromisoformat(start), date.fromisoformat(end))
    target = tmp_path / "extracted"
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(out) as archive:
        archive.extractall(target)
    [folder] = target.iterdir()
    return folder


def entry_lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "entries.jsonl").read_text().splitlines()]


def write_lines(folder: Path, lines: list[dict], name: str = "entries.jsonl") -> None:
    text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
    (folder / name).write_text(text)


def verdict(folder: Path, **kwargs: object) -> ev.Verdict:
    """The verdict of an auditor who pinned the organisation's key (the tests' signing key)."""
    return ev.verify_bundle(folder, fingerprints=[GENUINE], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def period(chain_key, signing_key):  # type: ignore[no-untyped-def]
    """Entries the day before, five on the day (one with every optional field and non-ASCII
    text), a checkpoint, then one more the day after."""
    add_entry(at=DAY - timedelta(days=1), actor="before")
    for i in range(4):
        add_entry(at=DAY + timedelta(minutes=i), actor=f"user{i}", reason=f"reason {i}")
    add_entry(
        at=DAY + timedelta(hours=1), actor="Zoë", reason="Kündigung — «DNC» 電話 \u200b",
        actor_user_id=7, request_ref=3, requested_by="sue", approval_note="ok ✓", reverts_ref=2,
    )  # fmt: skip
    checkpoint()
    add_entry(at=DAY + timedelta(days=1), actor="after")


class BundleTests:
    def test_a_good_bundle_verifies(self, period, tmp_path):
        folder = bundle(tmp_path)
        assert sorted(p.name for p in folder.iterdir()) == [
            "README.md", "catalogue.json", "checkpoints.jsonl", "entries.jsonl", "manifest.json",
            "public_keys", "verify.py",
        ]  # fmt: skip
        result = verdict(folder)
        assert result.status == 0, result
        assert result.summary.startswith("verified: 5 entries of the period")
        # The entry before the period shows where it starts; the one after isn't needed.
        assert [x["entry"]["seq"] for x in entry_lines(folder)] == [1, 2, 3, 4, 5, 6]
        assert [x["in_period"] for x in entry_lines(folder)] == [False] + [True] * 5

    def test_app_and_verifier_agree_on_real_entries(self, period, tmp_path, supervisor):
        from statusadmin.audit.services import begin, finish
        from statusadmin.convoso.status import Status

        attempt = begin(
            actor=supervisor, origin=None, action="update", code="XFER", account="sandbox",
            requested={"dnc": True}, reason="asked by the customer: «no calls»",
        )  # fmt: skip
        finish(attempt, before=None, after=Status(code="XFER", name="Transféré"), changed=["dnc"])
        checkpoint()
        folder = bundle(tmp_path, "2026-03-09", date.today().isoformat())
        lines = entry_lines(folder)
        stored = dict(AuditEntry.objects.values_list("seq", "hash"))
        assert len(lines) == len(stored) == 8
        for line in lines:
            assert ev.link_hash(line["prev_hash"], line["entry"]) == stored[line["entry"]["seq"]]
        assert verdict(folder, chain_key=ev.chain_key_bytes(tokens.CHAIN_KEY)).status == 0

    def test_no_secret_goes_in(self, period, tmp_path):
        folder = bundle(tmp_path)
        everything = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
        for secret in (tokens.CHAIN_KEY, tokens.SIGNING_PEM_BODY, tokens.SIGNING_SEED_B64):
            assert secret.encode() not in everything
        assert b"PRIVATE KEY" not in everything

    def test_newest_entries_not_yet_checkpointed_are_not_called_verified(self, period, tmp_path):
        folder = bundle(tmp_path, "2026-03-10", "2026-03-11")
        result = verdict(folder)
        assert result.status == 2
        assert "not vouched for" in result.summary
        assert "verified" not in result.summary

    def test_an_empty_period(self, period, tmp_path):
        result = verdict(bundle(tmp_path, "2025-01-01", "2025-01-31"))
        assert (result.status, result.summary) == (
            2, "nothing to vouch for: the bundle holds no entries",
        )  # fmt: skip

    def test_the_command_runs_the_verifier_on_what_it_wrote(self, period, tmp_path):
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "audit_evidence", "--from", "2026-03-10", "--to", "2026-03-10",
            str(tmp_path / "e.zip"), stdout=out, stderr=err,
        )  # fmt: skip
        assert err.getvalue().startswith(f"Wrote {tmp_path / 'e.zip'}: 5 entries of the period ")
        assert "(entries 1-" in err.getvalue(), err.getvalue()
        # Checked with this server's own keys, pinned: the bundle's are never taken on trust.
        said = out.getvalue()
        assert f"checkpoints checked with key {GENUINE} (key id {GENUINE[:16]}): pinned" in said
        assert said.splitlines()[-2].startswith("verified: 5 entries of the period")
        # And it says what to give the auditor, and how.
        assert said.splitlines()[-1] == (
            f"Give the auditor this fingerprint yourself, not with the bundle: {GENUINE}. "
            f"They check the bundle with: python verify.py --fingerprint {GENUINE}"
        )
        assert not (tmp_path / "e.zip.part").exists()

    def test_the_command_pins_the_servers_keys_not_the_bundles(self, period, tmp_path, settings):
        # A signing key other than the one the period's checkpoint was signed with, and the
        # old key's public half nowhere: the bundle's copy of it must not be enough.
        settings_key = tmp_path / "other.pem"
        settings_key.write_bytes(keyfiles.private_pem(Ed25519PrivateKey.generate()))
        settings.AUDIT_SIGNING_KEY_FILE = str(settings_key)
        with pytest.raises(CommandError, match="which is not a key you pinned") as exc:
            call_command(
                "audit_evidence", "--from", "2026-03-10", "--to", "2026-03-10",
                str(tmp_path / "e.zip"), stdout=io.StringIO(), stderr=io.StringIO(),
            )  # fmt: skip
        assert exc.value.returncode == 1

    def test_the_command_fails_when_the_bundle_cant_be_vouched_for(self, period, tmp_path):
        with pytest.raises(CommandError, match="not vouched for") as exc:
            call_command(
                "audit_evidence", "--from", "2026-03-10", "--to", "2026-03-11",
                str(tmp_path / "e.zip"), stdout=io.StringIO(), stderr=io.StringIO(),
            )  # fmt: skip
        assert exc.value.returncode == 2
        assert (tmp_path / "e.zip").exists()

    def test_the_verifier_reads_the_zip_itself(self, period, tmp_path):
        bundle(tmp_path)
        assert verdict(tmp_path / "evidence.zip").status == 0


class BundleTamperTests:
    """Each change to a bundle after it left the dashboard is caught, first bad entry named."""

    @pytest.fixture
    def folder(self, period, tmp_path):  # type: ignore[no-untyped-def]
        return bundle(tmp_path)

    def test_an_entry_edited(self, folder):
        lines = entry_lines(folder)
        lines[2]["entry"]["reason"] = "nothing to see"
        write_lines(folder, lines)
        result = verdict(folder)
        assert result.status == 1
        assert result.summary.startswith("FAILED: entry 3 (id ")
        assert "was changed: its content no longer matches its hash" in result.summary

    def test_an_entry_removed(self, folder):
        lines = entry_lines(folder)
        write_lines(folder, lines[:2] + lines[3:])
        assert "FAILED: entry 3 is missing (deleted?)" in verdict(folder).summary

    def test_entries_reordered(self, folder):
        lines = entry_lines(folder)
        lines[2], lines[3] = lines[3], lines[2]
        write_lines(folder, lines)
        assert "FAILED: entry 3 is missing (deleted?); the bundle jumps to 4" in (
            verdict(folder).summary
        )

    def test_entries_renumbered_after_a_swap(self, folder):
        lines = entry_lines(folder)
        lines[2], lines[3] = lines[3], lines[2]
        lines[2]["entry"]["seq"], lines[3]["entry"]["seq"] = 3, 4
        write_lines(folder, lines)
        summary = verdict(folder).summary
        assert summary.startswith("FAILED: entry 3 (")
        assert "does not follow entry 2" in summary

    def test_an_entry_inserted_with_every_hash_recomputed(self, folder):
        # The forger knows the public algorithm (it is in verify.py) and recomputes it all.
        lines = entry_lines(folder)
        forged = json.loads(json.dumps(lines[2]))
        forged["entry"]["actor_username"] = "mallory"
        lines.insert(3, forged)
        prev = lines[0]["prev_hash"]
        for seq, line in enumerate(lines, start=lines[0]["entry"]["seq"]):
            line["entry"]["seq"], line["prev_hash"] = seq, prev
            line["hash"] = prev = ev.link_hash(prev, line["entry"])
        write_lines(folder, lines)
        summary = verdict(folder).summary
        assert summary.startswith("FAILED: entry 6 (")
        assert "differs from the signed checkpoint" in summary

    def test_the_tail_cut(self, folder):
        write_lines(folder, entry_lines(folder)[:-2])
        summary = verdict(folder).summary
        assert "FAILED: the bundle ends at entry 4, but the signed checkpoint" in summary
        assert "entries were cut from the end" in summary

    def test_a_checkpoint_altered(self, folder):
        [cp] = [json.loads(x) for x in (folder / "checkpoints.jsonl").read_text().splitlines()]
        write_lines(folder, [{**cp, "seq": 5}], "checkpoints.jsonl")
        summary = verdict(folder).summary
        assert "FAILED: checkpoint on line 1 of checkpoints.jsonl (entry 5" in summary
        assert "its signature does not match" in summary

    def test_a_tag_rewritten_is_caught_with_the_chain_key(self, folder):
        lines = entry_lines(folder)
        lines[3]["mac"] = ev.chain_tag(b"not the key", lines[3]["hash"])
        write_lines(folder, lines)
        assert verdict(folder).status == 0  # without the key, tags can't be checked: said so
        assert "not checked" in " ".join(verdict(folder).notes)
        summary = verdict(folder, chain_key=ev.chain_key_bytes(tokens.CHAIN_KEY)).summary
        assert "FAILED: entry 4 (" in summary
        assert "its chain-key tag does not match" in summary


def run_verifier(*args: str | Path) -> tuple[int, str]:
    """verify.py's command line, in this process: its exit status and what it printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        status = ev.main([str(a) for a in args])
    return status, out.getvalue()


class PinningTests:
    """The verifier trusts the key the auditor brings (--fingerprint or --key, obtained out of
    band), never the one the bundle brings; without one it says so and exits 3."""

    @pytest.fixture
    def folder(self, period, tmp_path):  # type: ignore[no-untyped-def]
        return bundle(tmp_path)

    @pytest.fixture
    def genuine(self, signing_key):  # type: ignore[no-untyped-def]
        return ev.fingerprint(signing_key.public_key())

    def test_unpinned_it_says_so_and_prints_the_fingerprint_it_used(self, folder, genuine):
        status, said = run_verifier(folder)
        assert status == ev.UNPINNED == 3
        assert f"checkpoints checked with key {genuine} (key id {genuine[:16]}): NOT pinned" in said
        last = said.splitlines()[-1]
        assert last.startswith("verified, but NOT PINNED: 5 entries of the period")
        assert "--fingerprint" in last

    def test_pinned_by_fingerprint(self, folder, genuine):
        status, said = run_verifier(folder, "--fingerprint", genuine)
        assert status == ev.VERIFIED == 0, said
        assert f"checkpoints checked with key {genuine} (key id {genuine[:16]}): pinned" in said
        assert said.splitlines()[-1].startswith("verified: 5 entries of the period")
        assert "NOT" not in said

    def test_a_fingerprint_as_people_write_them(self, folder, genuine):
        spaced = ":".join(genuine[i : i + 4] for i in range(0, 64, 4)).upper()
        assert run_verifier(folder, "--fingerprint", spaced)[0] == 0

    def test_pinned_by_key_file(self, folder, signing_key, tmp_path):
        published = tmp_path / "published.pem"
        published.write_text(ev.public_key_pem(signing_key.public_key()))
        status, said = run_verifier(folder, "--key", published)
        assert status == 0, said

    def test_a_key_id_is_too_short_to_pin(self, folder, genuine, capsys):
        with pytest.raises(SystemExit) as exc:
            run_verifier(folder, "--fingerprint", genuine[:16])
        assert exc.value.code == 2
        assert "64 hex digits" in capsys.readouterr().err

    def test_pinned_to_another_key_it_fails(self, folder, genuine):
        other = ev.fingerprint(Ed25519PrivateKey.generate().public_key())
        status, said = run_verifier(folder, "--fingerprint", other)
        assert status == ev.FAILED == 1
        assert said.splitlines()[-1].startswith(
            f"FAILED: checkpoint on line 1 of checkpoints.jsonl (entry 6) is signed with key "
            f"{genuine[:16]}, which is not a key you pinned"
        )
        assert f"pinned fingerprint {other} matches no key in the bundle" in said

    def test_a_bundle_resigned_with_the_forgers_own_key(self, folder, genuine, signing_key):
        """The forger rewrites an entry, recomputes every hash, swaps in a key of their own
        and signs every checkpoint again with it: the bundle is whole again, by its own keys."""
        lines = entry_lines(folder)
        lines[3]["entry"]["reason"] = "forged"
        prev = lines[3]["prev_hash"]
        for line in lines[3:]:
            line["prev_hash"] = prev
            line["hash"] = prev = ev.link_hash(prev, line["entry"])
            line["mac"] = ""  # the chain key they lack: drop every tag, from the first entry on
        for line in lines[:3]:
            line["mac"] = ""
        write_lines(folder, lines)
        forger = Ed25519PrivateKey.generate()
        heads = {x["entry"]["seq"]: x["hash"] for x in lines}
        checkpoints = [
            json.loads(x) for x in (folder / "checkpoints.jsonl").read_text().splitlines()
        ]
        write_lines(
            folder,
            [ev.sign_checkpoint(forger, {**cp, "hash": heads[cp["seq"]], "keyed": False})
             for cp in checkpoints],
            "checkpoints.jsonl",
        )  # fmt: skip
        for old in (folder / "public_keys").iterdir():
            old.unlink()
        forged_id = ev.key_id(forger.public_key())
        pem = ev.public_key_pem(forger.public_key())
        (folder / "public_keys" / f"{forged_id}.pem").write_text(pem)
        forged = ev.fingerprint(forger.public_key())

        status, said = run_verifier(folder)
        assert status == ev.UNPINNED, said  # by its own key the forgery holds together
        assert f"checkpoints checked with key {forged} (key id {forged_id}): NOT pinned" in said
        assert genuine not in said

        status, said = run_verifier(folder, "--fingerprint", genuine)
        assert status == ev.FAILED, said
        assert f"is signed with key {forged_id}, which is not a key you pinned" in said
        published = folder.parent / "published.pem"
        published.write_text(ev.public_key_pem(signing_key.public_key()))
        status, said = run_verifier(folder, "--key", published)
        assert status == ev.FAILED, said
        assert f"is signed with key {forged_id}, which is not a key you pinned" in said


class ButtonTests:
    URL = "/audit/evidence.zip?date_from=2026-03-10&date_to=2026-03-10"

    def test_compliance_downloads_the_bundle(self, period, compliance_client, tmp_path):
        response = compliance_client.get(self.URL)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert (
            'filename="audit-evidence-2026-03-10-to-2026-03-10.zip"'
            in (response["Content-Disposition"])
        )
        path = tmp_path / "download.zip"
        path.write_bytes(b"".join(response.streaming_content))
        assert verdict(path).status == 0

    def test_only_those_who_may_export(self, supervisor_client):
        assert supervisor_client.get(self.URL).status_code == 403

    @pytest.mark.parametrize(
        "query", ["", "?date_from=2026-03-10", "?date_from=2026-03-11&date_to=2026-03-10",
                  "?date_from=x&date_to=y"],
    )  # fmt: skip
    def test_a_bad_period_is_refused(self, compliance_client, query):
        response = compliance_client.get(f"/audit/evidence.zip{query}")
        assert response.status_code == 400

    def test_the_panel_offers_it_and_shows_the_public_key(self, compliance_client, signing_key):
        html = compliance_client.get("/audit/").content.decode()
        assert 'action="/audit/evidence.zip"' in html
        assert ev.public_key_pem(signing_key.public_key()).strip() in html
        assert f"key <code>{ev.key_id(signing_key.public_key())}</code>." in html
        assert f"Fingerprint <code>{GENUINE}</code>" in html
        assert "give it to auditors yourself" in html
        assert "give the auditor the fingerprint of each signing key" in html
        assert "Chain key</dt>" in html

    def test_without_the_private_key_the_panel_shows_the_public_ones(
        self, compliance_client, settings, tmp_path
    ):
        folder = tmp_path / "public"
        folder.mkdir()
        key = Ed25519PrivateKey.generate().public_key()
        (folder / "k.pem").write_text(ev.public_key_pem(key))
        settings.AUDIT_PUBLIC_KEYS_DIR = str(folder)
        settings.AUDIT_SIGNING_KEY_FILE = ""
        html = compliance_client.get("/audit/").content.decode()
        assert "Done where checkpoints are written; this server checks them." in html
        assert f"Public key <code>{ev.key_id(key)}</code>" in html
        assert ev.public_key_pem(key).strip() in html
        assert "checkpoints are unsigned" not in html

    @pytest.mark.usefixtures("no_audit_keys")
    def test_the_panel_says_when_checkpoints_are_unsigned(self, compliance_client):
        add_entry()
        checkpoint()
        html = compliance_client.get("/audit/").content.decode()
        assert "Off: checkpoints are unsigned." in html
        assert '<span class="warn">unsigned</span>' in html
        assert "Not configured:</span> anyone with database access" in html


def test_the_verifier_imports_only_the_standard_library_and_cryptography():
    imported = set()
    for node in ast.walk(ast.parse(VERIFIER.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import would need the package"
            imported.add((node.module or "").split(".")[0])
    # Under mutation testing (make mutation) mutmut adds an import of its own to the copy.
    instrumented = {"mutmut"} if "mutants" in VERIFIER.parts else set()
    assert imported - set(sys.stdlib_module_names) - instrumented == {"cryptography"}


def test_the_verifier_runs_in_a_clean_virtualenv(period, tmp_path):
    """No statusadmin, no Django: a fresh venv with only cryptography, the bundle's verify.py.

    Creating the venv and installing cryptography (a wheel, from pip's usual sources) takes
    10-30 seconds.
    """
    folder = bundle(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "cryptography"],
        check=True, timeout=180, capture_output=True,
    )  # fmt: skip
    # The venv holds only what it needs: neither Django nor the application.
    probe = "import importlib.util as u; print(u.find_spec('django'), u.find_spec('statusadmin'))"
    isolated = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    ran = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=isolated, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert ran.stdout.split() == ["None", "None"], ran.stdout + ran.stderr

    def run_verifier(*pin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "verify.py", *pin], cwd=folder, env=isolated, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip

    unpinned = run_verifier()
    assert unpinned.returncode == 3, unpinned.stdout + unpinned.stderr
    assert f"checkpoints checked with key {GENUINE}" in unpinned.stdout
    assert unpinned.stdout.splitlines()[-1].startswith("verified, but NOT PINNED: 5 entries")
    good = run_verifier("--fingerprint", GENUINE)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].startswith("verified: 5 entries of the period")
    lines = entry_lines(folder)
    lines[1]["entry"]["actor_username"] = "mallory"
    write_lines(folder, lines)
    bad = run_verifier("--fingerprint", GENUINE)
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[-1].startswith("FAILED: entry 2 (id ")


def test_a_hand_edited_value_of_the_wrong_type_is_a_bad_bundle(period, tmp_path):
    folder = bundle(tmp_path)
    lines = entry_lines(folder)
    lines[1]["mac"] = {"not": "a tag"}
    write_lines(folder, lines)
    result = verdict(folder, chain_key=ev.chain_key_bytes(tokens.CHAIN_KEY))
    assert result.status == 1
    assert result.summary.startswith("FAILED: entry 2 (")


class ContentsTests:
    """What the manifest, the README and the checkpoints say (mutation testing found these
    unchecked)."""

    def test_the_manifest_and_readme_describe_the_bundle(self, period, tmp_path):
        folder = bundle(tmp_path)
        text = (folder / "manifest.json").read_text()
        assert text.startswith('{\n  "format": 2,\n  "period": {\n    "from"')
        manifest = json.loads(text)
        assert manifest["period"] == {"from": "2026-03-10", "to": "2026-03-10"}
        assert manifest["time_zone"] == "UTC"
        assert manifest["entries"] == {"first_seq": 1, "last_seq": 6, "in_period": 5}
        assert manifest["covered_by"]["seq"] == 6  # signed at the period's last entry itself
        readme = (folder / "README.md").read_text()
        assert readme.startswith("# Audit evidence: 2026-03-10 to 2026-03-10")
        assert f"venv/bin/python {folder.name}/verify.py" in readme
        assert "Entries run from entry 1 to entry 6;\n5 of them" in readme
        with zipfile.ZipFile(tmp_path / "evidence.zip") as archive:
            assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}

    def test_a_later_checkpoint_extends_the_bundle_so_it_can_vouch(
        self, chain_key, signing_key, tmp_path
    ):
        for i in range(3):
            add_entry(at=DAY + timedelta(minutes=i), actor=f"user{i}")
        add_entry(at=DAY + timedelta(days=1), actor="next day")
        checkpoint()  # covers entry 4, the day after the period
        folder = bundle(tmp_path)
        assert [x["entry"]["seq"] for x in entry_lines(folder)] == [1, 2, 3, 4]
        assert [x["in_period"] for x in entry_lines(folder)] == [True, True, True, False]
        assert json.loads((folder / "manifest.json").read_text())["entries"]["last_seq"] == 4
        assert verdict(folder).status == 0

    def test_the_anchor_checkpoint_before_the_first_entry_is_included(
        self, chain_key, signing_key, tmp_path
    ):
        add_entry(at=DAY - timedelta(days=3), actor="longer before")
        checkpoint()  # entry 1: two before the bundle's first, not needed
        add_entry(at=DAY - timedelta(days=2), actor="long before")
        checkpoint()  # entry 2: the anchor just before the bundle's first entry
        add_entry(at=DAY - timedelta(days=1), actor="before")
        add_entry(at=DAY, actor="on the day")
        checkpoint()  # entry 4
        folder = bundle(tmp_path)
        assert [x["entry"]["seq"] for x in entry_lines(folder)] == [3, 4]
        lines = (folder / "checkpoints.jsonl").read_text().splitlines()
        assert [json.loads(x)["seq"] for x in lines] == [2, 4]
        assert all(list(json.loads(x)) == sorted(json.loads(x)) for x in lines)
        assert all(json.loads(x).get("line") is None for x in lines)

    def test_which_entries_are_in_the_period_goes_by_position_not_row_id(
        self, chain_key, signing_key, tmp_path, supervisor
    ):
        from statusadmin.audit.services import begin

        # A pending attempt takes a row id but no place in the chain: ids and positions differ.
        begin(
            actor=supervisor, origin=None, action="update", code="XFER", account="sandbox",
            requested={},
        )  # fmt: skip
        add_entry(at=DAY - timedelta(days=1), actor="before")
        add_entry(at=DAY, actor="on the day")
        checkpoint()
        lines = entry_lines(bundle(tmp_path))
        assert [(x["entry"]["seq"], x["in_period"]) for x in lines] == [(1, False), (2, True)]
        assert [x["id"] for x in lines] != [1, 2]


class KeyRotationTests:
    """A new signing key takes over from the next checkpoint; a bundle lists every public key
    it rests on, each with the first and last checkpoint it signed, and no other."""

    @pytest.fixture
    def rotated(self, chain_key, signing_key, settings, tmp_path):  # type: ignore[no-untyped-def]
        """Entries and a checkpoint signed with the first key; then the rotation the README
        describes (a new private key, the old public key kept); entries and a checkpoint
        signed with the new key. Returns both private keys, old first."""
        add_entry(at=DAY - timedelta(days=1), actor="before")
        checkpoint()  # entry 1, old key: before the period, in no bundle of it but as anchor
        add_entry(at=DAY, actor="old key")
        checkpoint()  # entry 2, old key
        new = Ed25519PrivateKey.generate()
        retired = tmp_path / "public"
        retired.mkdir()
        (retired / "old.pem").write_text(ev.public_key_pem(signing_key.public_key()))
        unused = Ed25519PrivateKey.generate().public_key()  # listed, but it never signed
        (retired / "unused.pem").write_text(ev.public_key_pem(unused))
        (tmp_path / "new.pem").write_bytes(keyfiles.private_pem(new))
        settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "new.pem")
        settings.AUDIT_PUBLIC_KEYS_DIR = str(retired)
        add_entry(at=DAY + timedelta(hours=1), actor="new key")
        checkpoint()  # entry 3, new key
        add_entry(at=DAY + timedelta(hours=2), actor="new key again")
        checkpoint()  # entry 4, new key
        return signing_key, new

    def signed(self, settings) -> list[dict]:  # type: ignore[no-untyped-def]
        text = Path(settings.AUDIT_CHECKPOINT_FILE).read_text()
        return [json.loads(x) for x in text.splitlines()]

    def test_the_new_key_signs_from_the_next_checkpoint(self, rotated, settings):
        old, new = rotated
        assert [cp["key_id"] for cp in self.signed(settings)] == [
            ev.key_id(old.public_key()), ev.key_id(old.public_key()),
            ev.key_id(new.public_key()), ev.key_id(new.public_key()),
        ]  # fmt: skip

    def test_the_bundle_lists_each_key_with_its_range(self, rotated, settings, tmp_path):
        old, new = rotated
        cps = self.signed(settings)
        folder = bundle(tmp_path)
        ids = [ev.key_id(k.public_key()) for k in (old, new)]
        assert sorted(p.name for p in (folder / "public_keys").iterdir()) == sorted(
            f"{i}.pem" for i in ids
        )
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["public_keys"] == [
            {
                "key_id": ids[0],
                "fingerprint": ev.fingerprint(old.public_key()),
                "file": f"public_keys/{ids[0]}.pem",
                "first_signed": {"seq": 1, "at": cps[0]["at"]},
                "last_signed": {"seq": 2, "at": cps[1]["at"]},
            },
            {
                "key_id": ids[1],
                "fingerprint": ev.fingerprint(new.public_key()),
                "file": f"public_keys/{ids[1]}.pem",
                "first_signed": {"seq": 3, "at": cps[2]["at"]},
                "last_signed": {"seq": 4, "at": cps[3]["at"]},
            },
        ]
        readme = (folder / "README.md").read_text()
        assert (
            f"| `{ids[0]}` | `{ev.fingerprint(old.public_key())}` | entry 1, {cps[0]['at']} "
            f"| entry 2, {cps[1]['at']} |"
        ) in readme
        assert (
            f"| `{ids[1]}` | `{ev.fingerprint(new.public_key())}` | entry 3, {cps[2]['at']} "
            f"| entry 4, {cps[3]['at']} |"
        ) in readme

    def test_a_bundle_spanning_the_rotation_verifies_with_both_keys_pinned(self, rotated, tmp_path):
        old, new = rotated
        fingerprints = [ev.fingerprint(k.public_key()) for k in (old, new)]
        folder = bundle(tmp_path)
        result = ev.verify_bundle(folder, fingerprints=fingerprints)
        assert result.status == ev.VERIFIED, result
        assert result.summary.startswith("verified: 3 entries of the period")
        # Only the new key pinned: the old key's checkpoints are not vouched for by it.
        result = ev.verify_bundle(folder, fingerprints=fingerprints[1:])
        assert result.status == ev.FAILED
        assert f"signed with key {fingerprints[0][:16]}, which is not a key you pinned" in (
            result.summary
        )

    def test_the_command_names_every_fingerprint_to_hand_over(self, rotated, tmp_path):
        old, new = rotated
        out = io.StringIO()
        call_command(
            "audit_evidence", "--from", "2026-03-10", "--to", "2026-03-10",
            str(tmp_path / "e.zip"), stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
        a, b = (ev.fingerprint(k.public_key()) for k in (old, new))
        assert out.getvalue().splitlines()[-1] == (
            f"Give the auditor these fingerprints yourself, not with the bundle: {a}, {b}. "
            f"They check the bundle with: python verify.py --fingerprint {a} --fingerprint {b}"
        )


@pytest.fixture
def history_period(chain_key, signing_key):  # type: ignore[no-untyped-def]
    """A copy of the catalogue two days before, a change of XFER's DNC on the day (approved),
    a checkpoint, then a change the day after (outside the period)."""
    xfer, hot = snapshot("XFER"), snapshot("HOT")
    add_entry(
        at=DAY - timedelta(days=2), actor="the dashboard", action="catalogue_copy", code="",
        outcome="recorded", changed=(), before=None, requested={},
        after={"catalogue": [xfer, hot]},
    )  # fmt: skip
    add_entry(at=DAY - timedelta(days=1), code="HOT", changed=("callback",))
    add_entry(at=DAY + timedelta(hours=1), code="XFER", changed=("dnc",), reason="Opt-outs",
              actor="april", requested_by="sue")  # fmt: skip
    checkpoint()
    add_entry(at=DAY + timedelta(days=1), code="HOT", changed=("final",))
    checkpoint()


class CatalogueEvidenceTests:
    def claims(self, folder: Path) -> dict:
        return json.loads((folder / ev.CATALOGUES).read_text())

    def test_the_catalogues_at_start_and_end_follow_from_the_entries(
        self, history_period, tmp_path
    ):
        from statusadmin.audit import history

        folder = bundle(tmp_path)
        claims = self.claims(folder)
        assert claims["format"] == 1  # the layout an auditor's own tools read
        sandbox = claims["accounts"]["sandbox"]
        start = {row["status"]: row for row in sandbox["start"]}
        end = {row["status"]: row for row in sandbox["end"]}
        assert (start["XFER"]["dnc"], end["XFER"]["dnc"]) == ("N", "Y")
        assert end["HOT"]["final"] == start["HOT"]["final"]  # its change came after the period
        # What the dashboard shows at those moments, and what the auditor's replay rebuilds.
        at_end = history.catalogue_at(account="sandbox", at=datetime.fromisoformat(claims["end"]))
        assert history.as_rows(at_end) == sandbox["end"]
        result = verdict(folder)
        assert result.status == ev.VERIFIED, result
        assert "the catalogue at the start and at the end of the period follows" in result.summary
        # The bundle starts with the entry before the period (2): the state after entry 1 is
        # the dashboard's word, the rest is rebuilt here.
        assert next(x["entry"]["seq"] for x in entry_lines(folder)) == 2
        assert any("after entry 1, before this bundle" in note for note in result.notes)

    def test_a_catalogue_that_says_otherwise_fails(self, history_period, tmp_path):
        folder = bundle(tmp_path)
        claims = self.claims(folder)
        for row in claims["accounts"]["sandbox"]["end"]:
            if row["status"] == "XFER":
                row["dnc"] = "N"  # "DNC was never on"
        (folder / ev.CATALOGUES).write_text(json.dumps(claims))
        result = verdict(folder)
        assert result.status == ev.FAILED
        assert "doesn't follow from the entries: XFER's dnc is 'N' there, 'Y' from the entries" in (
            result.summary
        )

    def test_an_edited_entry_changes_the_verdict(self, history_period, tmp_path):
        folder = bundle(tmp_path)
        lines = entry_lines(folder)
        change = next(x for x in lines if x["entry"]["status_code"] == "XFER")
        change["entry"]["after"]["dnc"] = False
        write_lines(folder, lines)
        assert verdict(folder).status == ev.FAILED

    def test_from_the_first_entry_everything_is_rebuilt_here(self, history_period, tmp_path):
        folder = bundle(tmp_path, (DAY - timedelta(days=2)).date().isoformat(), "2026-03-10")
        result = verdict(folder)
        assert result.status == ev.VERIFIED, result
        assert self.claims(folder)["accounts"]["sandbox"]["base"] == {}
        assert any("rebuilt from the log's first entry" in note for note in result.notes)
