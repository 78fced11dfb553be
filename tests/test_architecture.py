"""The shape the code must keep (docs/architecture.md): who may write to Convoso, and which
way imports run between the apps."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "statusadmin"


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, wherever in the file (absolute names)."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module or "")
    return found


def modules_importing(app: str, forbidden: str, root: Path = ROOT) -> list[str]:
    return sorted(
        path.relative_to(root).as_posix()
        for path in (root / app).rglob("*.py")
        if any(name.startswith(forbidden) for name in imports_of(path, root))
    )


def test_the_service_is_the_only_writer():
    """Nothing but statuses/services.py may call the client's insert or update."""
    # A client however it is reached: client, self._client, get_client(), build_client(...).
    call = re.compile(r"client(\([^()]*\))?\s*\.\s*(insert|update)\(")
    for form in ("client.insert(", "get_client().update(", "self._client.update("):
        assert call.search(form), form
    writers = {
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if call.search(path.read_text())
    }
    assert writers == {"statuses/services.py"}


def test_imports_run_one_way():
    """convoso knows no other app; audit knows convoso but not statuses; statuses uses both."""
    assert modules_importing("convoso", "statusadmin.audit") == []
    assert modules_importing("convoso", "statusadmin.statuses") == []
    assert modules_importing("audit", "statusadmin.statuses") == []


def test_the_checker_sees_relative_and_late_imports(tmp_path):
    root = tmp_path / "statusadmin"
    (root / "audit").mkdir(parents=True)
    (root / "audit" / "late.py").write_text("def f():\n    from statusadmin.statuses import x\n")
    (root / "audit" / "relative.py").write_text("from ..statuses import models\n")
    (root / "audit" / "fine.py").write_text("from . import models\n")
    assert modules_importing("audit", "statusadmin.statuses", root) == [
        "audit/late.py",
        "audit/relative.py",
    ]
