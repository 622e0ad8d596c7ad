"""A fast start for ``dcops``: which feature module provides each top-level command, without importing it.

Importing every feature's CLI (and with it SQLAlchemy, FastAPI, pysnmp, ansible-runner...) costs
seconds of CPU; ``dcops --help`` needs only the names and one-line help of the commands. The index
``cli_index.json`` beside this file holds, per top-level command, its help line and the feature
module that provides it, plus a digest of the feature CLI sources it was built from. ``dcops``
imports only the module of the command it runs. When the sources changed since the index was
written (a new command on another branch, an edited help line), the digest no longer matches and
``dcops`` imports every feature as before: always right, only slower, until
``python -m dcops.cli_index`` writes the index again (a test fails while it is stale).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent
INDEX_FILE = PACKAGE / "cli_index.json"


def _features() -> tuple[str, ...]:
    from dcops.features import FEATURES

    return FEATURES


def source_digest() -> str:
    """A digest of everything the top-level command list depends on (the features' CLI sources)."""
    digest = hashlib.sha256()
    for name in _features():
        digest.update(name.encode() + b"\0")
        folder = PACKAGE / name
        for path in sorted(folder.rglob("*cli*.py")) if folder.is_dir() else []:
            digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_index() -> dict[str, Any]:
    """Import every feature's CLI and list its top-level commands (name, help line, module, group or not)."""
    import typer

    from dcops import features

    commands: list[dict[str, Any]] = []
    for module in features._modules("cli"):
        if not hasattr(module, "app"):
            continue
        sub_app: typer.Typer = module.app
        name = getattr(module, "COMMAND", None)
        if name is None:
            for info in sub_app.registered_commands:
                cmd_name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
                commands.append({"name": cmd_name, "help": _first_line(info.help or _doc(info.callback)),
                                 "module": module.__name__, "group": False})
            for group in sub_app.registered_groups:
                group_help = group.help or (group.typer_instance.info.help if group.typer_instance else "")
                commands.append({"name": group.name, "help": _first_line(_text(group_help)),
                                 "module": module.__name__, "group": True})
        else:
            commands.append({"name": name, "help": _first_line(_text(sub_app.info.help)),
                             "module": module.__name__, "group": True})
    return {"digest": source_digest(), "commands": commands}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _doc(callback: Any) -> str:
    return (callback.__doc__ or "") if callback is not None else ""


def _first_line(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def load_index() -> dict[str, Any] | None:
    """The index, or None when it is missing or stale (then every feature is imported)."""
    try:
        index = json.loads(INDEX_FILE.read_text())
    except (OSError, ValueError):
        return None
    if index.get("digest") != source_digest():
        return None
    return index


def write_index() -> Path:
    """Write ``cli_index.json`` from the current sources; return its path."""
    INDEX_FILE.write_text(json.dumps(build_index(), indent=1, ensure_ascii=False) + "\n")
    return INDEX_FILE


if __name__ == "__main__":  # pragma: no cover - a developer's command
    print(f"wrote {write_index()}")
