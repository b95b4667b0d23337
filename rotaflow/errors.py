"""The error hierarchy every rotaflow layer raises.

    RotaflowError
    ├── ConfigError        settings or secrets that stop the process at start-up
    ├── InputError         a program bundle or schedule broke its contract (CLI exit 2)
    ├── InfeasibleError    hard rules cannot all hold (CLI exit 3)
    ├── GateRefused        a backup/restore safety gate refused to go on (CLI exit 4)
    └── StorageError       the object store could not be read or written

Messages name the subject (files, rows, columns, ids), never personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "GateRefused",
    "InfeasibleError",
    "InputError",
    "Problem",
    "RotaflowError",
    "StorageError",
]


class RotaflowError(Exception):
    """Base of every error rotaflow raises on purpose."""

    exit_code: int = 1


class ConfigError(RotaflowError):
    """Settings are missing or unsafe; the process must not start."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One contract failure, located in the bundle.

    ``row`` counts data rows from 1 (the header is row 0); ``None`` means the whole
    file or column.
    """

    file: str
    row: int | None
    column: str | None
    expected: str
    got: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        text = f"{where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "expected": self.expected,
            "got": self.got,
        }


class InputError(RotaflowError):
    """The input broke its contract; ``problems`` lists every failure found."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], *, source: str = "") -> None:
        self.problems = sorted(set(problems), key=_problem_order)
        self.source = source
        head = f"{len(self.problems)} problem(s) in the program bundle"
        lines = [str(p) for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"... and {len(self.problems) - 50} more")
        super().__init__(head + ":\n" + "\n".join("  - " + line for line in lines))


def _problem_order(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, -1 if p.row is None else p.row, p.column or "", p.expected)


class InfeasibleError(RotaflowError):
    """The hard rules cannot all be satisfied."""

    exit_code = 3


class GateRefused(RotaflowError):
    """A safety gate of the backup/restore chain refused to go on."""

    exit_code = 4


class StorageError(RotaflowError):
    """The object store could not be read or written."""

    exit_code = 1
