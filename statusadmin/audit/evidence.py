"""Evidence bundles: what an outside auditor needs to check a period of the log without us.

One zip, in one folder:
    entries.jsonl      the chained entries, in chain order: per line the entry's content
                       exactly as hashed ("entry"), its hash, the previous hash and its
                       chain-key tag ("mac"), its id here, and whether it is in the period
    checkpoints.jsonl  the checkpoints from just before the first entry to the last, as
                       written (the file's lines and the database's copies, once each)
    public_keys/       the public keys its checkpoints are signed with, <key id>.pem
    verify.py          the standalone verifier (evidence_verifier.py, as it is here)
    README.md          for the auditor: how to run it, what it proves and what it doesn't
    manifest.json      the period, the range of entries, when the bundle was made, and each
                       public key with the first and last checkpoint it signed
    catalogue.json     per Convoso account, every status at the start and at the end of the
                       period as the dashboard rebuilt it from the log, and the state the
                       rebuild starts from (after the entry before the bundle's first), which
                       verify.py replays the bundle's entries on to check both

The entries run from the one just before the period (so the auditor sees where the period
starts) to the first signed checkpoint at or after its last one, so that a signature vouches
for every entry of the period. A bundle is one Convoso account's (the one in use): the other
accounts' entries in that range are withheld, their place in the chain and hashes only. The
chain key never goes in: tags are included for an auditor the organisation gives the key to,
separately.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import Max, Min
from django.template.loader import render_to_string
from django.utils import timezone

from . import chain, evidence_verifier, history, integrity, keys, selectors
from .evidence_verifier import VALID
from .models import AuditEntry

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Bundle:
    folder: str
    first_seq: int | None
    last_seq: int | None
    in_period: int
    # The fingerprints of the keys its checkpoints are signed with, for the auditor to pin.
    fingerprints: list[str]


def folder_name(date_from: date, date_to: date) -> str:
    return f"audit-evidence-{date_from.isoformat()}-to-{date_to.isoformat()}"


def _period_range(date_from: date, date_to: date) -> tuple[int | None, int | None]:
    period = selectors.Filters(date_from=date_from, date_to=date_to)
    found = selectors.filtered(period).filter(seq__isnull=False)
    span = found.aggregate(lo=Min("seq"), hi=Max("seq"))
    lo, hi = span["lo"], span["hi"]
    if lo is not None:
        # Every entry that completed after the period began, though begun before it: the
        # catalogue at the start is rebuilt from the state before all of them.
        later = selectors.in_account(AuditEntry.objects.all(), period.accounts).filter(
            seq__lt=lo, completed_at__gt=_moments(date_from, date_to)[0]
        )
        lo = min(lo, later.aggregate(lo=Min("seq"))["lo"] or lo)
    if lo is not None and AuditEntry.objects.filter(seq=lo - 1).exists():
        lo -= 1
    return lo, hi


def _moments(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The period's first and last instants, in the dashboard's time zone (as its filters)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(date_from, time(), zone)
    return start, datetime.combine(date_to + timedelta(days=1), time(), zone) - timedelta(
        microseconds=1
    )


def _catalogues(
    first: int, date_from: date, date_to: date, keys: tuple[str, ...]
) -> dict[str, Any]:
    """catalogue.json: for the bundle's account, the catalogue at the period's start and end,
    as the dashboard rebuilds it (history.py), and the state before the bundle's first entry."""
    start, end = _moments(date_from, date_to)
    return {
        "format": 1,
        "start": history.stamp(start),
        "end": history.stamp(end),
        "accounts": {
            account: {
                "base_after_entry": first - 1,
                "base": history.state_after(account, first - 1),
                "start": evidence_verifier.catalogue_rows(history.state_at(account, start)),
                "end": evidence_verifier.catalogue_rows(history.state_at(account, end)),
            }
            for account in history.accounts()
            if account in keys
        },
    }


def _checkpoints() -> list[integrity.Found]:
    """Every checkpoint once (the file's line and its database copy are the same one)."""
    unique: dict[str, integrity.Found] = {}
    for found in integrity.found_checkpoints(integrity.checkpoint_path()):
        unique.setdefault(json.dumps(_as_written(found.data), sort_keys=True), found)
    return list(unique.values())


def _lines(first: int, last: int, date_from: date, date_to: date) -> Iterator[tuple[str, bool]]:
    """Each entry's line, and whether the entry is in the period. Another Convoso account's
    entry is withheld: its position and hashes only, which keep the one chain checkable
    through it and say nothing of what it holds."""
    period = selectors.Filters(date_from=date_from, date_to=date_to)
    in_period = selectors.filtered(period).filter(seq__gte=first, seq__lte=last)
    rows = (
        AuditEntry.objects.filter(seq__gte=first, seq__lte=last)
        .order_by("seq")
        .values(*chain.CHAIN_FIELDS)
        .iterator(chunk_size=BATCH)
    )
    while batch := list(islice(rows, BATCH)):
        inside = set(
            in_period.filter(seq__gte=batch[0]["seq"], seq__lte=batch[-1]["seq"]).values_list(
                "seq", flat=True
            )
        )
        for row in batch:
            line: dict[str, Any] = {
                "prev_hash": row["prev_hash"], "hash": row["hash"], "mac": row["mac"],
            }  # fmt: skip
            if row["account"] in period.accounts:
                line |= {
                    "id": row["id"], "in_period": row["seq"] in inside,
                    "entry": chain.content(row, row["seq"]),
                }  # fmt: skip
            else:
                line |= {"seq": row["seq"], "in_period": False, "withheld": True}
            yield json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n", line["in_period"]


def write_bundle(target: IO[bytes], date_from: date, date_to: date) -> Bundle:
    """Write the bundle for entries created from ``date_from`` to ``date_to`` (both included,
    in the dashboard's time zone, as the log's filters count them) as a zip into ``target``.

    Memory stays bounded: entries are read and compressed a batch at a time.
    """
    folder = folder_name(date_from, date_to)
    first, last_in_period = _period_range(date_from, date_to)
    found = _checkpoints()
    signed = sorted(
        (f.data for f in found if f.signature == VALID), key=lambda data: int(data["seq"])
    )
    covered_by = None
    last = last_in_period
    if last_in_period is not None:
        covered_by = next((d for d in signed if int(d["seq"]) >= last_in_period), None)
        last = int(covered_by["seq"]) if covered_by else last_in_period
    public = keys.public_keys()
    relevant = []
    if first is not None and last is not None:
        relevant = [f for f in found if first - 1 <= f.data["seq"] <= last]
    listed = _keys_listed(found, relevant, public)
    in_period = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open(f"{folder}/{evidence_verifier.ENTRIES}", "w", force_zip64=True) as raw:
            entries = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            if first is not None and last is not None:
                for text, inside in _lines(first, last, date_from, date_to):
                    entries.write(text)
                    in_period += inside
            entries.flush()
            entries.detach()
        bundle.writestr(
            f"{folder}/{evidence_verifier.CHECKPOINTS}",
            "".join(json.dumps(_as_written(f.data), sort_keys=True) + "\n" for f in relevant),
        )
        for key in listed:
            bundle.writestr(
                f"{folder}/{key['file']}", evidence_verifier.public_key_pem(public[key["key_id"]])
            )
        bundle.writestr(f"{folder}/verify.py", Path(evidence_verifier.__file__).read_text())
        if first is not None:
            catalogues = _catalogues(first, date_from, date_to, selectors.account_keys())
            bundle.writestr(
                f"{folder}/{evidence_verifier.CATALOGUES}",
                json.dumps(catalogues, ensure_ascii=False, sort_keys=True) + "\n",
            )
        facts = {
            "format": 2,
            "period": {"from": date_from.isoformat(), "to": date_to.isoformat()},
            "time_zone": timezone.get_current_timezone_name(),
            "generated_at": timezone.now().isoformat(timespec="seconds"),
            "entries": {"first_seq": first, "last_seq": last, "in_period": in_period},
            "public_keys": listed,
            "covered_by": covered_by and _as_written(covered_by),
        }
        bundle.writestr(f"{folder}/manifest.json", json.dumps(facts, indent=2) + "\n")
        bundle.writestr(
            f"{folder}/README.md",
            render_to_string("audit/evidence_readme.md", {**facts, "folder": folder}),
        )
    fingerprints = [key["fingerprint"] for key in listed]
    return Bundle(folder, first, last, in_period, fingerprints)


def _keys_listed(
    found: list[integrity.Found],
    relevant: list[integrity.Found],
    public: dict[str, Ed25519PublicKey],
) -> list[dict[str, Any]]:
    """The public keys the bundle's checkpoints are signed with, in the order they took over,
    each with the first and last checkpoint it signed of all there are (not only the bundle's):
    when it was in use, for the auditor to compare with what the organisation says. A rotation
    hands over between two checkpoints."""
    rests_on = {str(f.data["key_id"]) for f in relevant if f.signature == VALID}
    ranges: dict[str, dict[str, dict[str, Any]]] = {}
    signed = [
        (str(f.data["key_id"]), {"seq": int(f.data["seq"]), "at": f.data["at"]})
        for f in found
        if f.signature == VALID
    ]
    for key_id, point in sorted(signed, key=lambda signed: (signed[1]["at"], signed[1]["seq"])):
        if key_id in rests_on:
            ranges.setdefault(key_id, {"first_signed": point})["last_signed"] = point
    return [
        {
            "key_id": key_id,
            "fingerprint": evidence_verifier.fingerprint(public[key_id]),
            "file": f"{evidence_verifier.KEYS_DIR}/{key_id}.pem",
            **points,
        }
        for key_id, points in ranges.items()  # in the order each first signed
    ]


def _as_written(data: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as its line was written: no empty fields, nothing of ours added."""
    return {k: v for k, v in data.items() if k != "line" and v not in (None, "")}
