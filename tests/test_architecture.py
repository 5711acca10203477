"""The house rules on imports (docs/ARCHITECTURE.md, "House rules"), checked on the source.

Every .py under servers/, workers/, deploy/ and gateway/ is parsed with ast and every
import statement is read, top-level or inside a function or an `if TYPE_CHECKING:`
block alike. Each module belongs to a layer, and imports may only point the allowed
ways:

    runtime    servers/runtime/                              → runtime
    contracts  servers/contracts/                            → runtime, contracts
    service    servers/<service>/, gateway/                   → runtime, contracts, itself
    worker     workers/                                      → runtime, contracts, worker,
                                                                servers/training
    edge       edge/ (Envoy config and runner, no gRPC service) → runtime, edge
    compose    servers/cli.py, servers/services.py, ...      → the above, and the app and
    deploy     deploy/                                          cli modules of services

Generated protos (chatdb.*, inference.*), the standard library and third-party packages
may be imported by everyone. Nothing under servers/ imports workers/, except the one
door `chatdb worker` opens (ALLOWED below). And no module imports itself back through
others: the module graph has no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("servers", "workers", "deploy", "gateway", "edge")
FIRST_PARTY = frozenset(SCANNED)
PLATFORM = ("servers.runtime",)
# Service packages outside servers/ (the public facade has a top-level folder of its own).
TOP_LEVEL_SERVICES = frozenset({"gateway"})
ENTRY_MODULES = frozenset({"app", "cli"})

# (importer, imported) edges allowed against the layer rules, each with its reason.
ALLOWED = {
    # servers/cli.py is the composition root of every process of the mesh, the worker's
    # included: `chatdb worker` (pyproject's one script) starts workers.main.run_worker.
    ("servers.cli", "workers.main"): "chatdb worker",
    # `chatdb demo-data` is tooling that lives in deploy/demo; the CLI only wires it in.
    ("servers.cli", "deploy.demo.cli"): "chatdb demo-data",
}


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def discover(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """module name → (file, is a package) for every scanned module."""
    modules = {}
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else ():
            if "__pycache__" not in path.parts:
                modules[_module_name(path)[0]] = (path, _module_name(path)[1])
    return modules


def _imported_names(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterable[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    for alias in node.names:
        # `from package import module` imports the module; `from module import name`
        # the module. The longest known prefix decides below.
        yield f"{prefix}.{alias.name}"


def import_graph(modules: Mapping[str, tuple[Path, bool]]) -> dict[str, set[str]]:
    """module → first-party modules it imports (by any import statement in the file).
    An import of something not scanned but first-party (a missing module) is kept as
    written, so that a rule still sees its top-level package."""
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        targets = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported_names(module, is_package, node):
                if name.split(".")[0] not in FIRST_PARTY:
                    continue
                parts = name.split(".")
                while len(parts) > 1 and ".".join(parts) not in modules:
                    parts.pop()
                target = ".".join(parts) if ".".join(parts) in modules else name
                if target != module:
                    targets.add(target)
    return graph


def layer(module: str) -> tuple[str, str]:
    """(layer, owner): owner is the service's name for a service module."""
    parts = module.split(".")
    if any(module == p or module.startswith(p + ".") for p in PLATFORM):
        return "runtime", ""
    if parts[0] == "servers" and len(parts) > 1 and parts[1] == "contracts":
        return "contracts", ""
    if parts[0] == "servers" and len(parts) > 1 and (ROOT / "servers" / parts[1]).is_dir():
        return "service", parts[1]
    if parts[0] in TOP_LEVEL_SERVICES:
        return "service", parts[0]
    if parts[0] == "servers":
        return "compose", ""
    if parts[0] == "workers":
        return "worker", ""
    if parts[0] == "edge":
        return "edge", ""
    return "deploy", ""


def allowed(src: str, dst: str) -> bool:
    if (src, dst) in ALLOWED:
        return True
    src_layer, src_owner = layer(src)
    dst_layer, dst_owner = layer(dst)
    if dst_layer == "runtime":
        return True
    if src_layer == "runtime":
        return False
    # the edge reads settings and the identity header names; compose and deploy use it
    if src_layer == "edge":
        return dst_layer == "edge"
    if dst_layer == "edge":
        return src_layer in ("compose", "deploy")
    if dst_layer == "contracts":
        return True
    if src_layer == "contracts":
        return False
    if src_layer == "service":
        return dst_layer == "service" and dst_owner == src_owner
    if src_layer == "worker":
        return dst_layer == "worker" or (dst_layer == "service" and dst_owner == "training")
    # compose and deploy: the other services only through their app and cli modules.
    if dst_layer == "service":
        depth = 2 if dst.split(".")[0] in TOP_LEVEL_SERVICES else 3
        return dst.split(".")[-1] in ENTRY_MODULES and len(dst.split(".")) == depth
    if dst_layer == "compose":
        return True
    return src_layer == "deploy" and dst_layer == "deploy"


def forbidden_imports(graph: Mapping[str, set[str]]) -> list[str]:
    return sorted(
        f"{src} imports {dst} ({layer(src)[0]} → {layer(dst)[0]})"
        for src, targets in graph.items()
        for dst in targets
        if not allowed(src, dst)
    )


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


GRAPH = import_graph(discover())


def test_the_scan_sees_the_code():
    assert len(GRAPH) > 100
    # an import inside a function counts like one at the top of the file
    assert "servers.training.store" in GRAPH["workers.main"]
    assert "servers.contracts.clients" in GRAPH["servers.training.validation"]


def test_imports_run_one_way():
    assert forbidden_imports(GRAPH) == []


def test_nothing_under_servers_imports_workers():
    edges = {(src, dst) for src, targets in GRAPH.items() for dst in targets}
    into_workers = {(s, d) for s, d in edges if s.startswith("servers") and d.split(".")[0] == "workers"}
    assert into_workers <= set(ALLOWED)


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_rules_catch_what_they_forbid():
    assert forbidden_imports({"servers.prediction.plan": {"workers.ml_engine.columns"}})
    assert forbidden_imports({"servers.training.app": {"workers.main"}})
    assert forbidden_imports({"workers.clients": {"servers.connector.convert"}})
    assert forbidden_imports({"servers.contracts.clients": {"servers.connector.convert"}})
    assert forbidden_imports({"servers.runtime.server": {"servers.contracts.queue"}})
    assert forbidden_imports({"servers.services": {"servers.training.store"}})
    assert not forbidden_imports({"servers.services": {"servers.training.app"}})
    assert not forbidden_imports({"workers.training_job": {"servers.training.store"}})
    # the gateway is a service: runtime and contracts only, composed through gateway.app
    assert forbidden_imports({"gateway.core": {"servers.parser.core"}})
    assert forbidden_imports({"servers.parser.core": {"gateway.core"}})
    assert forbidden_imports({"servers.services": {"gateway.core"}})
    assert not forbidden_imports({"servers.services": {"gateway.app"}})
    assert not forbidden_imports({"servers.cli": {"gateway.cli"}})
    assert not forbidden_imports({"gateway.core": {"servers.contracts.clients", "servers.runtime.errors"}})
    # the edge: runtime only; the CLI and the launcher use it, services do not
    assert forbidden_imports({"edge.config": {"gateway.core"}})
    assert forbidden_imports({"edge.config": {"servers.contracts.clients"}})
    assert forbidden_imports({"gateway.app": {"edge.runner"}})
    assert not forbidden_imports({"edge.config": {"servers.runtime.settings"}})
    assert not forbidden_imports({"servers.cli": {"edge.cli"}, "deploy.launcher": {"edge.runner"}})
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
