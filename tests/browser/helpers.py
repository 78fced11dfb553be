"""Plain helpers for the browser tests."""

from __future__ import annotations


def serious(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
