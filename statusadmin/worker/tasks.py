"""The recurring jobs, as tasks of Django's Tasks framework (enqueued by schedule.py)."""

from __future__ import annotations

import logging

from django.tasks import task

logger = logging.getLogger(__name__)


@task
def refresh_mirror() -> str:
    """Refresh every account's mirror (and so audit changes made outside the dashboard,
    resolve lost replies), and close change requests nobody decided in time. One account
    that fails (Convoso down, a token refused or unreadable) never stops the others."""
    from statusadmin.approvals.services import expire_overdue
    from statusadmin.convoso import tenancy
    from statusadmin.convoso.tokens import TokenUnreadable
    from statusadmin.statuses.mirror import mirror_refresh

    expired = expire_overdue()
    said = []
    for account in tenancy.every():
        with tenancy.use(account):
            try:
                sync = mirror_refresh(force=True)
            except TokenUnreadable as exc:
                logger.error("mirror of %s: %s", account.slug or "the default account", exc)
                said.append(f"{account.name}: {exc}")
                continue
        if sync.last_error:
            said.append(f"{account.name}: {sync.last_error}")
    synced = "; ".join(said) or "synced"
    return f"{synced}; {expired} request(s) expired"


@task
def audit_checkpoint() -> str:
    from statusadmin.audit.integrity import write_checkpoint

    written = write_checkpoint()
    signed = "signed" if written.record.key_id else "unsigned"
    summary = f"checkpoint at entry {written.record.seq}, {signed}"
    if failures := written.failures:
        # The file has the line; a copy that didn't leave the server is worth an operator's look.
        failed = "; ".join(f"{f.destination} ({f.error})" for f in failures)
        logger.error("audit checkpoint written but not sent to %s", failed)
        return f"{summary}, not sent to {failed}"
    return f"{summary}, sent to {len(written.shipped)} destination(s)"


@task
def verify_audit(ran_by: str = "worker") -> str:
    """Verify the chain (on schedule, or for the person who asked on the integrity panel)."""
    from statusadmin.audit.integrity import checkpoint_path, run_verification

    result = run_verification(ran_by=ran_by, checkpoints=checkpoint_path())
    if result.state != "intact":
        logger.error("audit verification: %s: %s", result.state, result.message)
    return f"{result.state}: {result.message}"


@task
def catalogue_snapshots() -> str:
    """Keep the catalogue's snapshots near the log's head, so that a question about a recent
    moment replays few entries (audit/history.py)."""
    from statusadmin.audit import history

    made = sum(history.keep_snapshots(account) for account in history.accounts())
    return f"{made} snapshot(s) of the catalogue"
