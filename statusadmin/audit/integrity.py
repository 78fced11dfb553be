"""Checkpoints (the chain's head, signed, kept outside the database) and verification runs.

A checkpoint is one JSON line: {"seq", "hash", "at", "count", "keyed"} and, when a signing key
is configured (keys.py), "key_id" and "sig", an Ed25519 signature over the rest
(evidence_verifier.checkpoint_message). Lines written before signing existed hold only seq,
hash and at, and still count, as unsigned checkpoints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from statusadmin import words

from . import chain, history, keys, shipping, triggers
from .evidence_verifier import BAD, UNKNOWN_KEY, UNSIGNED, VALID, check_signature, sign_checkpoint
from .models import AuditEntry, Checkpoint, Verification


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


@dataclass(frozen=True, slots=True)
class Written:
    record: Checkpoint
    line: str
    # Where else the line went, and what failed (the file was written all the same).
    shipped: list[shipping.Shipped]

    @property
    def failures(self) -> list[shipping.Shipped]:
        return [s for s in self.shipped if s.error]


def write_checkpoint(path: Path | None = None, *, seq: int | None = None) -> Written:
    """Append the current head (or entry ``seq``), signed if a key is configured, to the
    checkpoint file, one JSON per line; then send it to the configured destinations.

    The file is opened for appending only and flushed to disk before anything is sent, so a
    destination that is down never costs the checkpoint. A copy is kept in the database for
    the integrity panel and evidence bundles; only a signed copy is evidence there.
    """
    path = path or checkpoint_path()
    signer = keys.checkpoint_signer()  # first: a missing or broken key stops the checkpoint
    head = chain.head() if seq is None else chain.at(seq)
    data: dict[str, Any] = {
        "seq": head.seq,
        "hash": head.hash,
        "at": timezone.now().isoformat(timespec="seconds"),
        "count": AuditEntry.objects.filter(seq__isnull=False, seq__lte=head.seq).count(),
        "keyed": head.keyed,
    }
    if signer is not None:
        data = sign_checkpoint(signer, data)
    line = json.dumps(data, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    record = Checkpoint.objects.create(
        seq=head.seq, hash=head.hash, location=str(path), at=data["at"], count=data["count"],
        keyed=head.keyed, key_id=data.get("key_id", ""), signature=data.get("sig", ""),
    )  # fmt: skip
    return Written(record, line, shipping.ship(line))


class CheckpointFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Found:
    """A checkpoint as read, where it was kept, and what its signature says."""

    data: dict[str, Any]
    where: str
    in_file: bool
    signature: str  # evidence_verifier's VALID, BAD, UNKNOWN_KEY or UNSIGNED

    def point(self) -> chain.Checkpointed:
        valid = self.signature == VALID
        return chain.Checkpointed(
            int(self.data["seq"]),
            str(self.data["hash"]),
            str(self.data.get("at") or ""),
            vouches=valid or (self.in_file and self.signature == UNSIGNED),
            key_id=str(self.data["key_id"]) if valid else "",
            keyed=bool(self.data.get("keyed")),
        )


def read_checkpoints(path: Path) -> list[dict[str, Any]]:
    """The checkpoint file's lines, each a dict with at least an int seq and a str hash."""
    found = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            data["seq"], data["hash"] = int(data["seq"]), str(data["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointFileError(f"{path}, line {number}: not a checkpoint ({exc})") from None
        data["line"] = number
        found.append(data)
    return found


def found_checkpoints(path: Path | None) -> list[Found]:
    """Every checkpoint there is: the file's lines, then the database's copies."""
    trusted = keys.public_keys()
    found = []
    if path is not None and path.exists():
        for data in read_checkpoints(path):
            where = f"on line {data['line']} of {path}"
            found.append(Found(data, where, True, check_signature(data, trusted)))
    for copy in Checkpoint.objects.order_by("seq", "id"):
        data = {
            "seq": copy.seq, "hash": copy.hash, "at": copy.at, "count": copy.count,
            "keyed": copy.keyed, "key_id": copy.key_id, "sig": copy.signature,
        }  # fmt: skip
        # Copies made before signing existed have no signed "at": show when they were made.
        data["at"] = copy.at or copy.created_at.isoformat(timespec="seconds")
        where = "kept in the database"
        found.append(Found(data, where, False, check_signature(data, trusted)))
    return found


def _longest_seen() -> Verification | None:
    """The verification that saw the longest chain: a shorter one now means a cut tail."""
    return Verification.objects.filter(ok=True).order_by("-head_seq", "-ran_at").first()


def run_verification(*, ran_by: str = "", checkpoints: Path | None = None) -> Verification:
    """Verify the chain against every checkpoint there is, and keep the result for the panel.

    It never claims more than it knows. The chain alone shows edits, removals, insertions
    and reordering; the chain-key tags show an edit whose chain was recomputed; only a
    checkpoint kept outside the database (or signed) shows a tail cut off. So a non-empty log
    that no such checkpoint covers is UNANCHORED, and one whose tags or checkpoint signatures
    couldn't be checked here is UNCHECKED, not INTACT. The database's unsigned copies of
    checkpoints and the longest chain a past verification saw are checked too: they catch a
    careless cut, never a careful one.
    """
    found = found_checkpoints(checkpoints)
    usable = [f for f in found if f.signature in (VALID, UNSIGNED)]
    forged = next((f for f in found if f.signature == BAD), None)
    unknown = sorted({str(f.data.get("key_id")) for f in found if f.signature == UNKNOWN_KEY})
    seen = _longest_seen()
    result = chain.verify([f.point() for f in usable])
    # The catalogue's snapshots rest on entries the chain has just vouched for.
    snapshots = history.check_snapshots() if result.ok else history.SnapshotCheck(0)
    state: str = Verification.State.INTACT
    message = result.message
    if snapshots.checked:
        message += f"; {snapshots.checked} catalogue snapshots match the log"
    if snapshots.based_before is not None:
        message += (
            f"; the catalogue before entry {snapshots.based_before} rests on the one kept at the "
            "retention cut-off"
        )
    first_bad_seq = result.first_bad_seq
    if not result.ok:
        state = Verification.State.TAMPERED
    elif forged is not None:
        state, first_bad_seq = Verification.State.TAMPERED, None
        message = (
            f"the checkpoint of entry {forged.data['seq']} {forged.where} carries a signature "
            f"that does not match key {forged.data.get('key_id')}: it was altered or forged"
        )
    elif seen is not None and seen.head_seq is not None and seen.head_seq > result.head_seq:
        state = Verification.State.TAMPERED
        message = (
            f"the chain ends at entry {result.head_seq}, but the verification of "
            f"{seen.ran_at:%Y-%m-%d %H:%M} saw entry {seen.head_seq}: entries were removed "
            "from the end"
        )
    elif snapshots.problem:
        state, first_bad_seq, message = Verification.State.TAMPERED, None, snapshots.problem
    elif missing := triggers.missing(connection):
        state = Verification.State.UNGUARDED
        message += (
            f"; but the database no longer refuses changes to entries ({', '.join(missing)} "
            "missing): run `manage.py migrate`"
        )
    if state != Verification.State.TAMPERED:
        state, message = _coverage(result, state, message, checkpoints)
        state, message = _keys(result, state, message, unknown)
    return Verification.objects.create(
        ran_by=ran_by,
        ok=state != Verification.State.TAMPERED,
        state=state,
        checked=result.checked,
        head_seq=result.head_seq,
        covered_seq=result.covered_seq,
        first_bad_seq=first_bad_seq,
        message=message,
    )


@dataclass(frozen=True, slots=True)
class Badge:
    """What the last verification covered, for the panel's one line: how many of the entries
    that exist now, and whether it is older than its schedule (VERIFY_AUDIT_EVERY)."""

    verification: Verification | None
    entries: int
    every: timedelta
    stale: bool

    @property
    def unverified(self) -> int:
        """Entries written since (or otherwise not covered by) the last verification."""
        checked = self.verification.checked if self.verification else 0
        return max(self.entries - checked, 0)

    @property
    def every_text(self) -> str:
        return words.every(self.every)

    @property
    def tone(self) -> str:
        """ "ok" (green) only for a fresh verification that found the chain intact and covered
        every entry; "bad" for a broken chain; "warn" (amber) for anything in between."""
        if self.verification is None:
            return "warn"
        if not self.verification.ok:
            return "bad"
        intact = self.verification.state == Verification.State.INTACT
        return "ok" if intact and not self.stale and not self.unverified else "warn"


def badge() -> Badge:
    last = Verification.objects.first()
    every = timedelta(seconds=settings.VERIFY_AUDIT_EVERY)
    # The chain numbers its entries without gaps (a retention purge only removes the oldest):
    # its two ends tell how many there are, from the seq index, without counting the table.
    ends = AuditEntry.objects.aggregate(first=Min("seq"), last=Max("seq"))
    return Badge(
        verification=last,
        entries=ends["last"] - ends["first"] + 1 if ends["last"] is not None else 0,
        every=every,
        stale=last is not None and last.ran_at < timezone.now() - every,
    )


def _coverage(
    result: chain.VerifyResult, state: str, message: str, path: Path | None
) -> tuple[str, str]:
    covered = result.covered_by
    if result.head_seq > result.covered_seq:
        if covered is None:
            if state == Verification.State.INTACT:
                state = Verification.State.UNANCHORED
            message += (
                f"; no checkpoint kept outside the database covers "
                f"{'it' if result.checked == 1 else 'them'}, so entries cut from the end would "
                "not show" + ("" if result.tagged else ", nor a chain recomputed after an edit")
            ) + _missing_file_note(path)
            return state, message
        message += (
            f"; entries up to {result.covered_seq} are confirmed by a checkpoint "
            f"{_how(covered)}, the {result.head_seq - result.covered_seq} after it not yet"
        )
    elif covered is not None:
        message += f"; confirmed by a checkpoint {_how(covered)}"
    if covered is not None and not covered.key_id:
        message += (
            "; that checkpoint is unsigned"
            + ("" if settings.AUDIT_SIGNING_KEY_FILE else " (no AUDIT_SIGNING_KEY_FILE)")
            + ": whoever can write the checkpoint file could have rewritten it too"
        )
    return state, message


def _how(point: chain.Checkpointed) -> str:
    return f"signed with key {point.key_id}" if point.key_id else "kept outside the database"


def _keys(
    result: chain.VerifyResult, state: str, message: str, unknown: list[str]
) -> tuple[str, str]:
    if result.unchecked:
        message += (
            f"; {result.unchecked} entr{'y carries' if result.unchecked == 1 else 'ies carry'} "
            "a chain-key tag that can't be checked here, because AUDIT_CHAIN_KEY is not "
            "configured: an edit whose chain was recomputed would not show"
        )
    elif not result.tagged and result.checked:
        message += (
            "; no entry carries a chain-key tag yet (all were written before AUDIT_CHAIN_KEY "
            "was configured)"
            if keys.chain_key()
            else "; no chain key is configured (AUDIT_CHAIN_KEY), so anyone with database "
            "access could recompute the chain after an edit"
        )
    if unknown:
        message += (
            f"; checkpoints signed with unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)} were not used: put the public key in AUDIT_PUBLIC_KEYS_DIR, "
            "or treat them as forged"
        )
    if state == Verification.State.INTACT and (result.unchecked or unknown):
        state = Verification.State.UNCHECKED
    return state, message


def _missing_file_note(path: Path | None) -> str:
    if path is not None and not path.exists() and Checkpoint.objects.exists():
        return f" (checkpoints were written to {path}, but it is missing)"
    return ""
