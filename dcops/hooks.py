"""Typed hooks: how a lower feature asks a higher one for something without importing it.

A feature that *consumes* an optional collaborator declares the hook point in its own package, typed by the
call it expects::

    # dcops/capacity/hooks.py
    MEASURED_USE: Hook[Callable[[Session, list[int]], dict[int, dict[str, float]]]] = Hook("measured use")

and a feature above it *provides* it in a module named ``provides.py``, which ``dcops.features`` imports
before any hook is read::

    # dcops/monitoring/provides.py
    from dcops.capacity.hooks import MEASURED_USE
    MEASURED_USE.register(latest_use)

So dependencies stay one-way (monitoring → capacity), the consumer still works when the provider is not
installed (an empty hook), and a provider that fails to import fails loudly at the first read of any hook,
never silently.
"""

from __future__ import annotations

from typing import Generic, TypeVar

F = TypeVar("F")


class Hook(Generic[F]):
    """A named list of implementations of one call, registered by the features that provide it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._implementations: list[F] = []

    def register(self, implementation: F) -> F:
        """Add ``implementation`` (idempotent: registering the same callable twice keeps one)."""
        if implementation not in self._implementations:
            self._implementations.append(implementation)
        return implementation

    def all(self) -> list[F]:
        """Return every registered implementation, in feature order."""
        from dcops.features import load_providers

        load_providers()
        return list(self._implementations)

    def first(self) -> F | None:
        """Return the first registered implementation, or None when no installed feature provides it."""
        found = self.all()
        return found[0] if found else None

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._implementations)} registered)"
