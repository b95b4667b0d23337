"""The error hierarchy every rotaflow layer raises.

    RotaflowError
    ├── ConfigError        settings or secrets that stop the process at start-up
    ├── InputError         a program bundle or schedule broke its contract (CLI exit 2)
    ├── InfeasibleError    hard rules cannot all hold (CLI exit 3)
    ├── GateRefused        a backup/restore safety gate refused to go on (CLI exit 4)
    └── StorageError       the object store could not be read or written

Messages name the subject (files, rows, columns, ids), never personal data. An error that ends a
run with a result (a generation's summary.json, a validation's, a backup check's) carries that
result's JSON form as ``summary``.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Self

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
    summary: dict[str, Any] | None = None
    """The result of the run this error ends (summary.json's form), when it has one."""

    def __init__(self, *args: object, summary: dict[str, Any] | None = None) -> None:
        super().__init__(*args)
        if summary is not None:
            self.summary = summary

    def carrying(self, summary: dict[str, Any]) -> Self:
        """This error, now carrying the result of the run it ends (``summary``: the result's JSON form), for an
        error made before that result was known."""
        self.summary = summary
        return self


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
    """The problems with every value shown that carries a known name or email hidden.

    ``personal`` holds the names and emails of the input (any case, any surrounding spaces).
    This is rotaflow's one rule for hiding them, used by every :class:`InputError` (bundles,
    schedules, …); a value shown (``got``) is read as problems show it, unquoted
    (``'Jane Doe'``), trimmed and case-folded, and is hidden when:

    1. it *is* a known value, whatever its length (``'Okonkwo'`` typed as an id);
    2. it *contains* a known value of two words or more (a full name, an email) as whole
       words: ``'Dr. Jane Roe'`` typed as a role, ``'swap with jane.roe@example.org'`` in a
       note. Containment catches names typed with a title or inside free text, which an
       exact match misses; whole words (word characters ``\\w``, the rest are separators)
       keep ``'Janet Roewer'`` visible. A one-word name is only hidden by rule 1: a short
       name or a single word (``Ann``, ``Ward``, ``Dean``) inside a longer value is far more
       often an ordinary word or an id (``Annual leave``, ``Day ward``, ``DEANERY``) than that
       person, and hiding every such value would make errors useless;
    3. it was cut short (``'… Dr Maria de la Cr...'``, more than 20 characters) and its last
       words, at least 4 characters, begin a known value.
    """
    known = _Personal(personal)
    if not known.exact:
        return list(problems)
    seen: dict[str, bool] = {}
    out = []
    for problem in problems:
        got = problem.got
        if got is not None and got not in seen:
            seen[got] = known.shown_in(got)
        out.append(replace(problem, got=PERSONAL_DATA_HIDDEN) if got is not None and seen[got] else problem)
    return out


_TOKEN = re.compile(r"\w+|[^\w\s]")
"""Words and single separators: ``jane.roe@x.org`` is jane . roe @ x . org."""
_WORD = re.compile(r"\w+")
_MIN_CHARS = 4
"""A known value shorter than this, or a cut-short tail shorter than this, is only matched whole."""


class _Personal:
    """Known names and emails, indexed for :func:`hide_personal`'s rule."""

    def __init__(self, values: Iterable[str]) -> None:
        self.exact = frozenset(v.strip().casefold() for v in values if v and v.strip())
        several = [v for v in self.exact if len(v) >= _MIN_CHARS and len(_WORD.findall(v)) >= 2]
        self.inner = frozenset(tuple(_tokens(v)) for v in several)
        self.lengths = sorted({len(t) for t in self.inner})
        self.starts = sorted(" ".join(_tokens(v)) for v in self.exact)
        """Every known value, to tell a value cut short from its start."""
        self.inner_starts = sorted(" ".join(t) for t in self.inner)
        """Known values of several words, to tell one cut short inside a longer value."""

    def shown_in(self, got: str) -> bool:
        text = _unquoted(got).casefold()
        if text in self.exact:
            return True
        tokens = _tokens(text)
        if any(tuple(tokens[i : i + n]) in self.inner for n in self.lengths for i in range(len(tokens) - n + 1)):
            return True
        if text.endswith("...") and len(text) > 20:  # a long value shown cut short
            head = _tokens(text[:-3])
            for i in range(len(head)):
                tail = " ".join(head[i:])
                if len(tail) < _MIN_CHARS:
                    break
                if _begins_one_of(tail, self.starts if i == 0 else self.inner_starts):
                    return True
        return False


def _begins_one_of(head: str, values: list[str]) -> bool:
    """Whether ``head`` is the beginning of one of the sorted ``values``."""
    at = bisect.bisect_left(values, head)
    return at < len(values) and values[at].startswith(head)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _unquoted(got: str) -> str:
    """A value as problems show it (``repr`` of a string) back to the string, trimmed."""
    text = got.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            text = value.strip()
    return text


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
    from rotaflow.configs.settings import mask_url

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
