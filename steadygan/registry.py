"""Name -> entry tables, so that every technique is selected by config and looked up by name.

A registry that a config key selects from (`key="optim.optimizer"`) is listed in SELECTIONS: validation
checks that key's value against the registry, so the valid choices are written once, where the entries
register themselves, and every error lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A table of named entries; `register` is a decorator, `get` fails with the valid names."""

    def __init__(self, kind: str, key: str | None = None):
        self.kind = kind
        self.key = key  # the config key "section.name" that selects an entry, if any
        self._entries: dict[str, T] = {}
        if key is not None:
            SELECTIONS[key] = self

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if isinstance(entry, type) and hasattr(entry, "name"):
                entry.name = name  # a registered class (a technique) knows the name it is selected by
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            where = f" in {self.key}" if self.key else ""
            choices = ", ".join(self.names())
            raise ConfigError(f"unknown {self.kind} {name!r}{where}; choose one of: {choices}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) in the order of registration."""
        return list(self._entries.items())

    def __contains__(self, name: str) -> bool:
        return name in self._entries


SELECTIONS: dict[str, Registry] = {}  # config key "section.name" -> the registry it selects from
