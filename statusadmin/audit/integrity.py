"""Checkpoints (the chain's head, kept outside the database) and verification runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from . import chain
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


def run_verification(*, ran_by: str = "", checkpoints: Path | None = None) -> Verification:
    """Verify the chain (and the checkpoints, if given) and keep the result for the panel."""
    points = read_checkpoints(checkpoints) if checkpoints and checkpoints.exists() else []
    result = chain.verify(points)
    return Verification.objects.create(
        ran_by=ran_by,
        ok=result.ok,
        checked=result.checked,
        head_seq=result.head_seq,
        first_bad_seq=result.first_bad_seq,
        message=result.message,
    )
