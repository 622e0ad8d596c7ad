"""The features depend on one another one way only; this test is that rule, written down.

Every module of ``dcops`` belongs to one node:

- ``platform``: the top-level modules every feature stands on (config, database, exceptions, crud, routing,
  security, hooks, the root CLI helpers…). It imports no feature.
- ``<feature>``: a feature package's domain modules (models, services, pure computations).
- ``<feature>:adapter``: the modules that face a caller or join features into a journey: ``router.py``,
  ``*_router.py``, ``cli.py``, ``*_cli.py``, ``tasks.py`` (the broker's entry points), ``flows.py``,
  ``background.py``, ``provides.py`` (hook implementations), the package's ``__init__.py`` (``mount``), and
  every module of ``web`` and ``demo``.
- ``app``: the assembly of the whole (``main``, ``models``, ``__main__``, ``apidocs``, ``openapi``).

Rules: a domain module imports only the platform and the domain of features *below* it in ``LAYERS``; the
platform imports only the platform; nothing but adapters and the app imports an adapter. Imports inside
functions count (a lazy import is still a dependency); imports under ``if TYPE_CHECKING:`` do not. A lower
feature that needs something from a higher one declares a :class:`dcops.hooks.Hook`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import dcops

ROOT = Path(dcops.__file__).parent

LAYERS = ("engine", "tenancy", "auth", "dcim", "ipam", "virtualization", "capacity", "provisioning",
          "monitoring", "consolidation", "transfer", "inventory")
"""Feature domains, lowest first: each may import the ones before it."""

APP_MODULES = {"main", "models", "__main__", "apidocs", "openapi"}
ADAPTER_FILES = {"router.py", "cli.py", "flows.py", "background.py", "provides.py", "tasks.py", "__init__.py"}
ADAPTER_PACKAGES = {"web", "demo"}


def node_of(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "migrations":
        return None
    if len(parts) == 1:
        return "app" if path.stem in APP_MODULES else "platform"
    package = parts[0]
    name = parts[-1]
    if name == "__init__.py" and len(parts) > 2 and package not in ADAPTER_PACKAGES:
        return package  # a sub-package's namespace (monitoring/snmp) is domain code
    if package in ADAPTER_PACKAGES or name in ADAPTER_FILES or name.endswith(("_router.py", "_cli.py")):
        return f"{package}:adapter"
    return package


def _file_of(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "dcops" or len(parts) == 1:
        return None
    base = ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def module_node(module: str) -> str | None:
    """The node of an imported dotted name (``dcops.x.y``), or None outside dcops."""
    found = _file_of(module)
    return node_of(found) if found is not None else None


def _runtime_imports(tree: ast.AST) -> list[tuple[int, str]]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # a submodule when the name is one, else an attribute of the module
                submodule = f"{node.module}.{alias.name}"
                found.append((node.lineno, submodule if _file_of(submodule) else node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def edges() -> dict[tuple[str, str], list[str]]:
    """(importer node, imported node) → the places that make the edge."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(ROOT.rglob("*.py")):
        source = node_of(path)
        if source is None:
            continue
        seen: set[tuple[str, int]] = set()
        for line, module in _runtime_imports(ast.parse(path.read_text(), str(path))):
            target = module_node(module)
            if target is None or target == source or (target, line) in seen:
                continue
            seen.add((target, line))
            found[(source, target)].append(f"{path.relative_to(ROOT.parent)}:{line}")
    return found


def _allowed(source: str, target: str) -> bool:
    if target == "app":
        return source == "app"
    if target.endswith(":adapter"):
        return source == "app" or source.endswith(":adapter")
    if source == "platform":
        return False  # the platform imports no feature (target is a feature domain here)
    if source == "app" or source.endswith(":adapter"):
        return True
    if target == "platform":
        return True
    return LAYERS.index(target) < LAYERS.index(source)


def test_every_feature_domain_is_in_the_layer_list():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"migrations"}
    assert packages - ADAPTER_PACKAGES == set(LAYERS)


def test_dependencies_go_one_way_down_the_layers():
    wrong = [f"{source} → {target}: {', '.join(places[:8])}"
             for (source, target), places in sorted(edges().items()) if not _allowed(source, target)]
    assert not wrong, "imports against the layering (see this module's docstring):\n" + "\n".join(wrong)


def test_the_layering_check_catches_a_cycle(tmp_path):
    """The rule itself: an upward import between two domains is refused, as is a domain importing an adapter."""
    assert not _allowed("capacity", "provisioning")
    assert _allowed("provisioning", "capacity")
    assert not _allowed("monitoring", "engine:adapter")
    assert not _allowed("platform", "auth")
    assert _allowed("capacity:adapter", "provisioning")
