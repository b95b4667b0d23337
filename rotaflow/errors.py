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

import ast
from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = [
    "PERSONAL_DATA_HIDDEN",
    "ConfigError",
    "GateRefused",
    "InfeasibleError",
    "InputError",
    "Problem",
    "RotaflowError",
    "StorageError",
    "hide_personal",
]

PERSONAL_DATA_HIDDEN = "a value (hidden: personal data)"
"""What an error shows in place of a value that is personal data."""


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


def hide_personal(problems: Iterable[Problem], personal: Iterable[str]) -> list[Problem]:
    """The problems with every value shown that equals a known name or email hidden.

    ``personal`` holds the names and emails of the input (any case, any surrounding
    spaces); a value matches in whatever column it was typed, as it is or quoted the way
    problems show values (``'Jane Doe'``), also when it was cut short (``'Jane D...'``).
    """
    known = frozenset(value.strip().casefold() for value in personal if value and value.strip())
    if not known:
        return list(problems)
    return [
        replace(p, got=PERSONAL_DATA_HIDDEN) if p.got is not None and _is_personal(p.got, known) else p
        for p in problems
    ]


def _is_personal(got: str, known: frozenset[str]) -> bool:
    text = got.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            text = value.strip()
    folded = text.casefold()
    if folded in known:
        return True
    if folded.endswith("...") and len(folded) > 20:  # a long value shown cut short
        head = folded[:-3].rstrip()
        return any(value.startswith(head) for value in known)
    return False


class InputError(RotaflowError):
    """The input broke its contract; ``problems`` lists every failure found.

    ``personal`` (the input's names and emails) hides, in every problem, a value shown
    that is one of them: every rendering of the error (its text, ``--json``, a
    quarantine report, a Prefect artifact) comes from ``problems``.
    """

    exit_code = 2

    def __init__(self, problems: Iterable[Problem], *, source: str = "", personal: Iterable[str] = ()) -> None:
        self.problems = sorted(set(_without_url_secrets(hide_personal(problems, personal))), key=_problem_order)
        self.source = _mask(source)
        head = f"{len(self.problems)} problem(s) in the program bundle"
        lines = [str(p) for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"... and {len(self.problems) - 50} more")
        super().__init__(head + ":\n" + "\n".join("  - " + line for line in lines))


def _mask(where: str) -> str:
    """A source that is a URL (``s3://key:secret@bucket/…``) without its credentials."""
    if "://" not in where:
        return where
    from configs.settings import mask_url

    return mask_url(where)


def _without_url_secrets(problems: Iterable[Problem]) -> list[Problem]:
    return [replace(p, file=_mask(p.file)) if "://" in p.file else p for p in problems]


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
