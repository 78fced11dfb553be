"""The shape the code must keep (docs/architecture.md): who may write to Convoso, that imports
only run down the layers, and that no modules import each other in a loop."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
ROOT = PROJECT / "statusadmin"
ARCHITECTURE = PROJECT / "docs" / "architecture.md"


# --- reading the code -------------------------------------------------------------------------


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imports_of(path: Path, root: Path, known: dict[str, Path]) -> set[str]:
    """The package's own modules a file imports, wherever in the file (in a function too).
    ``from package import name`` counts as importing the module ``package.name`` when there
    is one, else the package. The packages a dotted name passes through are not counted:
    their ``__init__`` modules hold nothing."""
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {name for name in found if name in known}


def import_graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports_of(path, root, known) - {name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other in a loop (Tarjan's strongly connected
    components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# --- the layers, as docs/architecture.md writes them --------------------------------------------


@dataclass(frozen=True)
class Layers:
    """Layer names with their rank (lowest first) and the patterns that place modules."""

    rank: dict[str, int]
    anywhere: dict[str, str]  # "views.py" or "management/": a file or folder of that name
    files: dict[str, str]  # "statusadmin/logs.py"
    folders: dict[str, str]  # "statusadmin/audit/"
    top: str

    def of(self, path: Path, root: Path) -> str:
        """The layer of a file: a name placed anywhere first, then the file itself, then its
        nearest folder; what nothing places is in the top layer."""
        relative = path.relative_to(root.parent).as_posix()
        for pattern, layer in self.anywhere.items():
            if pattern.endswith("/") and f"/{pattern}" in f"/{relative}":
                return layer
            if relative.endswith(f"/{pattern}"):
                return layer
        if relative in self.files:
            return self.files[relative]
        for folder in sorted(self.folders, key=len, reverse=True):
            if relative.startswith(folder):
                return self.folders[folder]
        return self.top


def read_layers(text: str) -> Layers:
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    rank: dict[str, int] = {}
    anywhere: dict[str, str] = {}
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    for number, line in enumerate(
        line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")
    ):
        names, _, patterns = line.partition(":")
        layer = names.split()[0]
        for name in names.split():
            rank[name] = number
        for pattern in patterns.split():
            if pattern.startswith("*/"):
                anywhere[pattern[2:]] = layer
            elif pattern.endswith("/"):
                folders[pattern] = layer
            else:
                files[pattern] = layer
    top = max(rank, key=rank.__getitem__)
    return Layers(rank, anywhere, files, folders, top)


def upward_imports(root: Path, layers: Layers) -> list[str]:
    """Imports from a lower layer to a higher one, as "importer (layer) -> imported (layer)"."""
    known = modules(root)
    layer_of = {name: layers.of(path, root) for name, path in known.items()}
    return [
        f"{name} ({layer_of[name]}) -> {target} ({layer_of[target]})"
        for name, targets in sorted(import_graph(root).items())
        for target in sorted(targets)
        if layers.rank[layer_of[target]] > layers.rank[layer_of[name]]
    ]


LAYERS = read_layers(ARCHITECTURE.read_text())


# --- the project ---------------------------------------------------------------------------------


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


def test_the_layers_are_the_documented_ones():
    assert list(LAYERS.rank) == [
        "base", "convoso", "audit", "statuses", "approvals", "changesets", "views"
    ]  # fmt: skip
    assert LAYERS.rank["approvals"] == LAYERS.rank["changesets"]
    assert LAYERS.of(ROOT / "statuses" / "views.py", ROOT) == "views"
    assert LAYERS.of(ROOT / "statuses" / "services.py", ROOT) == "statuses"
    assert (
        LAYERS.of(ROOT / "audit" / "management" / "commands" / "verify_audit.py", ROOT) == "views"
    )
    assert LAYERS.of(ROOT / "accounts" / "roles.py", ROOT) == "base"
    assert LAYERS.of(ROOT / "worker" / "tasks.py", ROOT) == "views"


def test_imports_run_down_the_layers():
    assert upward_imports(ROOT, LAYERS) == []


def test_no_modules_import_each_other_in_a_loop():
    assert cycles(import_graph(ROOT)) == []


# An HTML tag: "<p", "<svg ", "</rect>"; not "<ConvosoClient ...>" (a repr).
TAG = re.compile(r"</?[a-z][a-z0-9]*[\s/>]")


def html_built_in_python(root: Path) -> list[str]:
    """Calls of mark_safe, and f-strings or %-formatted strings that hold HTML tags: HTML
    built in Python goes through templates or format_html, which escape what they insert."""
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("mark_safe", "SafeString"):
                    found.append(f"{where}:{node.lineno}: {name}")
            elif isinstance(node, ast.JoinedStr):
                text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
                if TAG.search(text):
                    found.append(f"{where}:{node.lineno}: HTML in an f-string")
            elif (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Mod)
                and isinstance(node.left, ast.Constant)
                and TAG.search(str(node.left.value))
            ):
                found.append(f"{where}:{node.lineno}: HTML %-formatted")
    return found


def test_no_html_is_built_by_hand():
    assert html_built_in_python(ROOT) == []


# --- the checks themselves, on module trees made for them ---------------------------------------


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "statusadmin"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    return tree(
        tmp_path,
        {
            "audit/chain.py": "from . import processes\n",
            # A loop closed by an import inside a function counts as one.
            "audit/processes.py": "def walk():\n    from .chain import walk_stretch\n",
            "statuses/a.py": "from statusadmin.statuses import b\n",
            "statuses/b.py": "import statusadmin.statuses.c\n",
            "statuses/c.py": "from .a import thing\n",
            "statuses/d.py": "from . import a\n",  # imports into the loop, isn't part of it
        },
    )


class CheckerTests:
    def test_html_built_by_hand_is_found(self, tmp_path: Path) -> None:
        root = tree(
            tmp_path,
            {
                "a.py": (
                    "from django.utils.safestring import mark_safe\n"
                    "def f(x):\n"
                    "    mark_safe(x)\n"
                    "    y = f'<p class=\"a\">{x}</p>'\n"
                    "    z = '<b>%s</b>' % x\n"
                    "    return f'<Thing {x}>', format_html('<p>{}</p>', x)\n"
                ),
            },
        )
        assert html_built_in_python(root) == [
            "statusadmin/a.py:3: mark_safe",
            "statusadmin/a.py:4: HTML in an f-string",
            "statusadmin/a.py:5: HTML %-formatted",
        ]

    def test_a_loop_between_two_modules_is_found(self, looped: Path) -> None:
        assert ["statusadmin.audit.chain", "statusadmin.audit.processes"] in cycles(
            import_graph(looped)
        )

    def test_a_longer_loop_is_found_whole_and_nothing_else(self, looped: Path) -> None:
        assert cycles(import_graph(looped)) == [
            ["statusadmin.audit.chain", "statusadmin.audit.processes"],
            ["statusadmin.statuses.a", "statusadmin.statuses.b", "statusadmin.statuses.c"],
        ]

    def test_no_loop_no_finding(self, tmp_path: Path) -> None:
        root = tree(tmp_path, {"audit/a.py": "from . import b\n", "audit/b.py": "import os\n"})
        assert cycles(import_graph(root)) == []

    def test_an_import_up_the_layers_is_found_however_written(self, tmp_path: Path) -> None:
        root = tree(
            tmp_path,
            {
                "audit/late.py": "def f():\n    from statusadmin.statuses import models\n",
                "audit/relative.py": "from ..statuses.models import Thing\n",
                "audit/fine.py": "from . import late\nfrom statusadmin.convoso import client\n",
                "statuses/models.py": "",
                "statuses/views.py": "from statusadmin.approvals import services\n",
                "approvals/services.py": "from statusadmin.statuses import views\n",
                "convoso/client.py": "",
            },
        )
        assert upward_imports(root, LAYERS) == [
            "statusadmin.approvals.services (approvals) -> statusadmin.statuses.views (views)",
            "statusadmin.audit.late (audit) -> statusadmin.statuses.models (statuses)",
            "statusadmin.audit.relative (audit) -> statusadmin.statuses.models (statuses)",
        ]

    def test_what_no_layer_names_is_the_top(self, tmp_path: Path) -> None:
        root = tree(
            tmp_path,
            {"newthing.py": "", "convoso/client.py": "from statusadmin import newthing\n"},
        )
        assert LAYERS.of(root / "newthing.py", root) == "views"
        assert upward_imports(root, LAYERS) == [
            "statusadmin.convoso.client (convoso) -> statusadmin.newthing (views)"
        ]


def test_every_module_is_read():
    """The graph holds every module, packages included, so nothing escapes the checks."""
    graph = import_graph(ROOT)
    assert {"statusadmin", "statusadmin.audit.chain", "statusadmin.approvals.services"} <= set(
        graph
    )
    assert "statusadmin.statuses.services" in graph["statusadmin.approvals.services"]
