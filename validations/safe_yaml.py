"""Read YAML that comes from outside (a bundle, a configuration a user points at) with bounded work.

``yaml.safe_load`` refuses tags that run code, but not a "billion laughs": nine aliases of nine
aliases … expand a few hundred bytes into 10^9 values as soon as anything walks the data (turns it
into a string or JSON). :class:`BoundedLoader` counts, *while composing* — before any Python object
is built — how many alias references the document makes and how many nodes it would have with every
alias expanded, and stops at the first alias past either limit (validations/limits.py), naming its
line and column. An alias inside its own anchor (a cycle) is refused as well.
"""

from __future__ import annotations

from typing import Any, NoReturn

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

from rotaflow.errors import Problem
from rotaflow.validations.limits import LIMITS, BundleLimits

__all__ = ["BoundedLoader", "YamlLimitError", "load_yaml"]


class YamlLimitError(yaml.YAMLError):
    """A YAML document past a limit; ``problem`` locates it (row = line of the alias)."""

    def __init__(self, problem: Problem, line: int, column: int) -> None:
        super().__init__(f"{problem.got} ({problem.expected})")
        self.problem = problem
        self.line = line
        self.column = column


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses alias expansion past the limits while composing."""

    file = "YAML"
    limits = LIMITS

    def compose_document(self) -> Node | None:
        self._aliases = 0
        self._expanded = 0
        self._weights: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded
        return super().compose_document()  # type: ignore[no-any-return]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)  # the anchored node (or yaml's own error)
            line, column = mark.line + 1, mark.column + 1
            where = f"an alias at line {line}, column {column}"
            self._aliases += 1
            if self._aliases > self.limits.yaml_aliases:
                self._refuse(
                    f"YAML with at most {self.limits.yaml_aliases} alias references", f"{where} past that", line, column
                )
            weight = self._weights.get(id(node))
            if weight is None:  # its anchor is still being composed: the alias is inside it
                self._refuse("YAML without an alias inside its own anchor", where, line, column)
            self._expanded += weight
            if self._expanded > self.limits.yaml_nodes:
                self._refuse(
                    f"YAML whose aliases expand to at most {self.limits.yaml_nodes} nodes",
                    f"{where} that expands past it",
                    line,
                    column,
                )
            return node
        before = self._expanded
        node = super().compose_node(parent, index)
        self._expanded += 1
        self._weights[id(node)] = self._expanded - before
        return node

    def _refuse(self, expected: str, got: str, line: int, column: int) -> NoReturn:
        raise YamlLimitError(Problem(self.file, line, None, expected, got), line, column)


def load_yaml(file: str, text: str, *, limits: BundleLimits = LIMITS) -> Any:
    """Parse one YAML document with :class:`BoundedLoader`; ``file`` names it in errors."""
    loader = BoundedLoader(text)
    loader.file, loader.limits = file, limits
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
