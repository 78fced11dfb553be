"""Checkpoints (the chain's head, kept outside the database) and verification runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from . import chain, triggers
from .models import Checkpoint, Verification


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def write_checkpoint(path: Path | None = None, *, seq: int | None = None) -> tuple[Checkpoint, str]:
    """Append the current head (or entry ``seq``) to the checkpoint file, one JSON per line.

    The file is opened for appending only and flushed to disk before returning; a copy is
    kept in the database for the integrity panel, but only the file (or wherever its lines
    are shipped) is evidence, because it lives outside the database.
    """
    path = path or checkpoint_path()
    head = chain.head() if seq is None else chain.at(seq)
    line = json.dumps(
        {"seq": head.seq, "hash": head.hash, "at": timezone.now().isoformat(timespec="seconds")},
        sort_keys=True,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    record = Checkpoint.objects.create(seq=head.seq, hash=head.hash, location=str(path))
    return record, line


class CheckpointFileError(ValueError):
    pass


def read_checkpoints(path: Path) -> list[chain.Checkpointed]:
    points = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            points.append(
                chain.Checkpointed(int(data["seq"]), str(data["hash"]), str(data.get("at", "")))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointFileError(f"{path}, line {number}: not a checkpoint ({exc})") from None
    return points


def _database_copies() -> list[chain.Checkpointed]:
    return [
        chain.Checkpointed(c.seq, c.hash, c.created_at.isoformat(timespec="seconds"), False)
        for c in Checkpoint.objects.order_by("seq")
    ]


def _longest_seen() -> Verification | None:
    """The verification that saw the longest chain: a shorter one now means a cut tail."""
    return Verification.objects.filter(ok=True).order_by("-head_seq", "-ran_at").first()


def run_verification(*, ran_by: str = "", checkpoints: Path | None = None) -> Verification:
    """Verify the chain against every checkpoint there is, and keep the result for the panel.

    It never claims more than it knows. The chain alone shows edits, removals, insertions
    and reordering; only a checkpoint kept outside the database shows a tail cut off or a
    chain recomputed after an edit. So a non-empty log that no outside checkpoint covers is
    UNANCHORED, not INTACT. The database's own copies of checkpoints and the longest chain a
    past verification saw are checked too: they catch a careless cut, never a careful one.
    """
    outside = read_checkpoints(checkpoints) if checkpoints and checkpoints.exists() else []
    seen = _longest_seen()
    result = chain.verify([*outside, *_database_copies()])
    state, message = Verification.State.INTACT, result.message
    if not result.ok:
        state = Verification.State.TAMPERED
    elif seen is not None and seen.head_seq > result.head_seq:
        state = Verification.State.TAMPERED
        message = (
            f"the chain ends at entry {result.head_seq}, but the verification of "
            f"{seen.ran_at:%Y-%m-%d %H:%M} saw entry {seen.head_seq}: entries were removed "
            "from the end"
        )
    elif missing := triggers.missing(connection):
        state = Verification.State.UNGUARDED
        message += (
            f"; but the database no longer refuses changes to entries ({', '.join(missing)} "
            "missing): run `manage.py migrate`"
        )
    if state != Verification.State.TAMPERED and result.head_seq > result.covered_seq:
        if result.covered_seq == 0:
            if state == Verification.State.INTACT:
                state = Verification.State.UNANCHORED
            message += (
                f"; no checkpoint kept outside the database covers "
                f"{'it' if result.checked == 1 else 'them'}, so entries cut from the end, or a "
                "chain recomputed after an edit, would not show" + _missing_file_note(checkpoints)
            )
        else:
            message += (
                f"; entries up to {result.covered_seq} are confirmed by a checkpoint kept "
                f"outside the database, the {result.head_seq - result.covered_seq} after it "
                "not yet"
            )
    return Verification.objects.create(
        ran_by=ran_by,
        ok=state != Verification.State.TAMPERED,
        state=state,
        checked=result.checked,
        head_seq=result.head_seq,
        covered_seq=result.covered_seq,
        first_bad_seq=result.first_bad_seq,
        message=message,
    )


def _missing_file_note(path: Path | None) -> str:
    if path is not None and not path.exists() and Checkpoint.objects.exists():
        return f" (checkpoints were written to {path}, but it is missing)"
    return ""
