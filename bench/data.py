"""Builders for realistic volumes: bulk inserts, never one save per row.

- the status catalogue: N statuses in the sandbox and in the (fresh) mirror;
- the audit log: M entries over five years, 50 actors and every status code, with a valid hash
  chain so that verification can be timed too. Like a real install's, it starts with the copy
  of the catalogue the dashboard took at its first sync, where every status's history begins.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from statusadmin.audit import chain
from statusadmin.audit.evidence_verifier import CATALOGUE
from statusadmin.audit.models import (
    DASHBOARD_ACTOR,
    Action,
    AuditEntry,
    CatalogueSnapshot,
    Outcome,
    touched_text,
)
from statusadmin.convoso import errors
from statusadmin.convoso.connection import SANDBOX_ACCOUNT
from statusadmin.convoso.models import SandboxStatus
from statusadmin.convoso.sandbox import SYSTEM_STATUSES, _row
from statusadmin.convoso.status import FLAGS
from statusadmin.statuses import counts
from statusadmin.statuses.models import MirrorStatus, MirrorSync

WORDS = [
    "Callback", "Requested", "No Answer", "Sale", "Transferred", "Voicemail", "Busy", "Closer",
    "Not Interested", "Wrong Number", "Hot Lead", "Do Not Call", "Follow Up", "Appointment",
    "Qualified", "Language Barrier", "Hung Up", "Disconnected", "Spanish", "Retention",
    "Verified", "Pending", "Escalated", "Duplicate", "Deceased", "Fax Tone", "Left Message",
]  # fmt: skip
PREFIXES = ["CB", "NA", "SL", "XF", "VM", "BZ", "NI", "WN", "HL", "DN", "FU", "AP", "QL"]


def status_codes(n: int) -> list[str]:
    """n distinct valid codes (2 letters and 4 digits), the 10 standard ones first."""
    codes = [code for code, *_ in SYSTEM_STATUSES]
    i = 0
    while len(codes) < n:
        codes.append(f"{PREFIXES[i % len(PREFIXES)]}{i:04d}")
        i += 1
    return codes


def build_statuses(n: int) -> list[str]:
    """The sandbox's catalogue and a fresh mirror of it, n statuses."""
    rng = random.Random(7)
    codes = status_codes(n)
    now = timezone.now()
    sandbox = [_row(spec, custom=False) for spec in SYSTEM_STATUSES]
    for code in codes[len(SYSTEM_STATUSES) :]:
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {int(code[2:])}"
        flags = {flag: rng.random() < 0.4 for flag in FLAGS}
        sandbox.append(
            SandboxStatus(
                code=code, name=name, hex_color=f"{rng.randrange(16**6):06X}", custom=True, **flags
            )
        )
    with transaction.atomic():
        SandboxStatus.objects.all().delete()
        SandboxStatus.objects.bulk_create(sandbox, batch_size=2000)
        MirrorStatus.objects.filter(account=SANDBOX_ACCOUNT).delete()
        MirrorStatus.objects.bulk_create(
            [
                MirrorStatus(
                    account=SANDBOX_ACCOUNT,
                    code=row.code,
                    name=row.name,
                    search_text=MirrorStatus.search_text_for(row.code, row.name),
                    color="#" + row.hex_color if row.hex_color else "",
                    workflow=row.workflow,
                    custom=row.custom,
                    synced_at=now,
                    **{flag: getattr(row, flag) for flag in FLAGS},
                )
                for row in sandbox
            ],
            batch_size=2000,
        )
        counts.mirror_changed(SANDBOX_ACCOUNT)  # a search must not serve an earlier run's counts
        MirrorSync.objects.update_or_create(
            account=SANDBOX_ACCOUNT,
            defaults={"synced_at": now, "attempted_at": now, "last_error": "", "lease_until": None},
        )
    with connection.cursor() as cursor:
        # VACUUM too, as autovacuum soon would: it moves the bulk insert out of the trigram
        # index's pending list, which until then every search scans (1 ms instead of 0.02).
        cursor.execute(f"VACUUM ANALYZE {MirrorStatus._meta.db_table}")
    return codes


ACTORS = [f"{first}.{last}" for first, last in zip(
    ["ana", "ben", "cara", "dev", "eli", "fay", "gus", "hana", "ivan", "jo"] * 5,
    ["lopez", "okafor", "nguyen", "smith", "rossi", "khan", "meyer", "silva", "kim", "haas"] * 5,
    strict=True,
)]  # fmt: skip
ACTORS = [f"{a}{i // 10 or ''}" for i, a in enumerate(ACTORS)]  # 50 distinct people
REASONS = ["Customer asked to stop calls", "Compliance review", "Opt-out via SMS",
           "Campaign change", "Regulator request", "Corrected by mistake"]  # fmt: skip
YEARS = 5
ERRORS = {
    Outcome.REJECTED: errors.UPDATE_CODES[6069][1],
    Outcome.FAILED: "Convoso could not be reached (the connection failed), so nothing was changed.",
    Outcome.UNKNOWN: "Convoso did not answer in time. The change may or may not have been made.",
}


def _snapshot(rng: random.Random, code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"{rng.choice(WORDS)} {code}",
        "color": f"#{rng.randrange(16**6):06X}",
        **{flag: rng.random() < 0.4 for flag in FLAGS},
        "workflow": None,
        "custom": True,
    }


def _entry(rng: random.Random, at, code: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    roll = rng.random()
    action = Action.UPDATE
    if roll < 0.04:
        action = Action.CREATE
    elif roll < 0.07:
        action = Action.EXTERNAL_UPDATE
    outcome_roll = rng.random()
    outcome = Outcome.SUCCEEDED
    if action == Action.EXTERNAL_UPDATE:
        outcome = Outcome.OBSERVED
    elif outcome_roll < 0.04:
        outcome = Outcome.REJECTED
    elif outcome_roll < 0.06:
        outcome = Outcome.FAILED
    elif outcome_roll < 0.07:
        outcome = Outcome.UNKNOWN
    before = None if action == Action.CREATE else _snapshot(rng, code)
    if action == Action.CREATE:
        after = _snapshot(rng, code)
        requested = dict(after)
        changed = ["name", *FLAGS, "color"]
    else:
        # Which field a supervisor touches: DNC and Final are the ones compliance watches.
        field = rng.choices(["dnc", "final", "callback", "name", "color", "reached", "success"],
                            weights=[6, 6, 25, 15, 15, 18, 15])[0]  # fmt: skip
        new_value: Any = not before[field] if field in FLAGS else f"{rng.choice(WORDS)} {code}"
        if field == "color":
            new_value = f"#{rng.randrange(16**6):06X}"
        requested = {field: new_value}
        after = {**before, field: new_value}
        changed = [field]
    succeeded = outcome in (Outcome.SUCCEEDED, Outcome.OBSERVED)
    external = action == Action.EXTERNAL_UPDATE
    reason = rng.choice(REASONS) if "dnc" in changed and not external else ""
    return {
        "created_at": at,
        "completed_at": at + timedelta(milliseconds=rng.randrange(40, 900)),
        "actor_username": "outside the dashboard" if external else rng.choice(ACTORS),
        "remote_ip": None if external else f"10.20.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "user_agent": "" if external else "Mozilla/5.0 (Windows NT 10.0) Chrome/150.0",
        "request_id": "" if external else f"{rng.getrandbits(128):032x}",
        "account": SANDBOX_ACCOUNT,
        "action": action,
        "status_code": code,
        "before": before,
        "requested": {} if external else requested,
        "after": after if succeeded else None,
        "changed_fields": changed if succeeded else [],
        "reason": reason,
        "outcome": outcome,
        "error_code": 6069 if outcome == Outcome.REJECTED else None,
        "error_message": ERRORS.get(outcome, ""),
        "failure_kind": {Outcome.FAILED: "connection", Outcome.UNKNOWN: "timeout"}.get(outcome, ""),
        "note": "",
    }  # fmt: skip


def _catalogue_copy(rng: random.Random, at, codes: list[str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The first entry of the log: the catalogue as the dashboard first copied it."""
    return {
        "created_at": at, "completed_at": at, "actor_username": DASHBOARD_ACTOR,
        "remote_ip": None, "user_agent": "", "request_id": "", "account": SANDBOX_ACCOUNT,
        "action": Action.CATALOGUE_COPY, "status_code": "", "before": None, "requested": {},
        "after": {CATALOGUE: [_snapshot(rng, code) for code in sorted(codes)]},
        "changed_fields": [], "reason": "", "outcome": Outcome.RECORDED, "error_code": None,
        "error_message": "", "failure_kind": "", "note": "",
    }  # fmt: skip


def build_audit(n: int, codes: list[str], *, progress=print) -> None:  # type: ignore[no-untyped-def]
    """n chained audit entries, oldest first, spread evenly over the last five years: the
    first is the copy of the catalogue, the others changes to it."""
    rng = random.Random(42)
    end = timezone.now() - timedelta(minutes=1)
    start = end - timedelta(days=365 * YEARS)
    step = (end - start) / n
    prev = chain.GENESIS
    batch: list[AuditEntry] = []
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        # The bench's own reset of its own database: the append-only triggers refuse TRUNCATE
        # too, so they are lifted for this transaction only (replica mode, as the README's
        # retention procedure lifts them).
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"TRUNCATE {AuditEntry._meta.db_table} RESTART IDENTITY")
        cursor.execute(f"TRUNCATE {CatalogueSnapshot._meta.db_table}")
    for seq in range(1, n + 1):
        jitter = timedelta(microseconds=rng.randrange(int(step / timedelta(microseconds=1))))
        at = start + step * (seq - 1) + jitter
        values = _catalogue_copy(rng, at, codes) if seq == 1 else _entry(rng, at, rng.choice(codes))
        digest = chain.entry_hash(prev, values, seq)
        touched = touched_text(values["changed_fields"])
        batch.append(AuditEntry(**values, seq=seq, prev_hash=prev, hash=digest, touched=touched))
        prev = digest
        if len(batch) == 10_000 or seq == n:
            AuditEntry.objects.bulk_create(batch)
            batch = []
            if seq % 100_000 == 0 or seq == n:
                progress(f"  audit entries: {seq:,} of {n:,} ({time.monotonic() - started:.0f} s)")
    with connection.cursor() as cursor:
        # Sets the visibility map too, so that index-only scans work from the start.
        cursor.execute(f"VACUUM ANALYZE {AuditEntry._meta.db_table}")
