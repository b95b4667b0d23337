"""What changed between two versions of a block's published schedule: changes.csv and changes.html.

A version is a set of ``(person_id, date, shift_id)`` rows. A shift that moves from one person to
another is one ``removed`` row and one ``added`` row (docs/formats.md, “changes.csv”). These are pure
functions: the caller reads the versions from the database and decides where the files go.
The page names people by ``person_id`` only; give it to those who may see the whole block.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rotaflow.files import private_dir, write_private
from rotaflow.services.results import check_csv
from rotaflow.validations.contracts import CHANGE_COLUMNS

__all__ = ["Row", "change_rows", "changes_csv", "changes_html", "write_changes"]

Row = tuple[str, dt.date, str]
"""One assignment of a version: (person_id, date, shift_id)."""

_ORDER = {"removed": 0, "added": 1}


def change_rows(
    old: Iterable[Row],
    new: Iterable[Row],
    *,
    from_version: int,
    to_version: int | None,
    reason: str,
    reference: str = "",
) -> list[dict[str, Any]]:
    """changes.csv rows from version ``old`` to version ``new`` (``to_version`` None: a preview that is not
    published, its cell empty), sorted by person, date, shift, a removal before an addition."""
    before, after = set(old), set(new)
    changed = [("removed", row) for row in before - after] + [("added", row) for row in after - before]
    changed.sort(key=lambda item: (item[1][0], item[1][1], item[1][2], _ORDER[item[0]]))
    return [
        {
            "change": change,
            "person_id": person,
            "date": day.isoformat(),
            "shift_id": shift,
            "from_version": from_version,
            "to_version": "" if to_version is None else to_version,
            "reason": reason,
            "reference": reference,
        }
        for change, (person, day, shift) in changed
    ]


def changes_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """changes.csv's text, held to its contract (``BrokenOutput`` if a row breaks it)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CHANGE_COLUMNS, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    check_csv("changes", text)
    return text


# --------------------------------------------------------------------------- the page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:60rem;padding:1.5rem;
color:#1f2328;line-height:1.45}
h1{font-size:1.5rem;margin:.2rem 0 .4rem}h2{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #d0d7de;
padding-bottom:.2rem}
.facts{color:#59636e;margin:.2rem 0 1rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}
.card{border:1px solid #d0d7de;border-radius:.4rem;padding:.5rem .8rem;min-width:8rem;background:#f6f8fa}
.card-value{font-size:1.25rem;font-weight:650}.card-label{font-size:.8rem;color:#59636e}
table{border-collapse:collapse;font-size:.85rem}
td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
.lost{background:#ffebe9}.gained{background:#dafbe1}
.dow{color:#59636e}
.note{color:#59636e;font-style:italic}
footer{margin-top:2rem;font-size:.8rem;color:#59636e}
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _version(value: int | None) -> str:
    return "an unpublished preview" if value is None else f"version {value}"


def changes_html(
    rows: Iterable[Mapping[str, Any]],
    *,
    program: str,
    block_id: str,
    from_version: int,
    to_version: int | None,
    reason: str,
    reference: str = "",
    shift_labels: Mapping[str, str] | None = None,
) -> str:
    """One self-contained page (no script, no external asset) of ``rows`` (changes.csv's): the block, the
    versions and the reason, how many people and shifts changed, then each person's shifts lost and gained by
    date. People are shown by ``person_id`` only; every text is HTML-escaped."""
    labels = shift_labels or {}
    rows = list(rows)

    def shift(shift_id: str) -> str:
        label = labels.get(shift_id)
        return _esc(shift_id) if not label or label == shift_id else f"{_esc(label)} ({_esc(shift_id)})"

    # person -> date -> (lost, gained)
    people: dict[str, dict[dt.date, tuple[list[str], list[str]]]] = {}
    added = removed = 0
    for row in rows:
        day = _day(row["date"])
        lost, gained = people.setdefault(str(row["person_id"]), {}).setdefault(day, ([], []))
        if row["change"] == "removed":
            lost.append(str(row["shift_id"]))
            removed += 1
        else:
            gained.append(str(row["shift_id"]))
            added += 1

    title = f"Changes to block {block_id}: {_version(from_version)} → {_version(to_version)}"
    facts = [f"program {_esc(program)}", f"reason: {_esc(reason)}"]
    if reference:
        facts.append(f"reference: {_esc(reference)}")
    cards = "".join(
        f'<div class="card"><div class="card-value">{value}</div><div class="card-label">{label}</div></div>'
        for value, label in ((len(people), "people affected"), (added, "shifts added"), (removed, "shifts removed"))
    )
    sections: list[str] = []
    for person in sorted(people):
        body = "".join(
            f'<tr><th scope="row"><span class="dow">{day:%a}</span> {day.isoformat()}</th>'
            f'<td class="{"lost" if lost else ""}">{", ".join(shift(s) for s in sorted(lost))}</td>'
            f'<td class="{"gained" if gained else ""}">{", ".join(shift(s) for s in sorted(gained))}</td></tr>'
            for day, (lost, gained) in sorted(people[person].items())
        )
        sections.append(
            f"<section><h2>{_esc(person)}</h2><table><thead><tr><th>date</th><th>lost</th><th>gained</th></tr>"
            f"</thead><tbody>{body}</tbody></table></section>"
        )
    content = "".join(sections) or '<p class="note">No changes: both versions hold the same shifts.</p>'
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_esc(title)}</h1><p class="facts">{" · ".join(facts)}</p>'
        f'<div class="cards">{cards}</div></header><main>{content}</main>'
        "<footer>generated by rotaflow; people are shown by person_id; this file is self-contained and works "
        "offline</footer></body></html>\n"
    )


def write_changes(folder: Path, rows: Iterable[Mapping[str, Any]], **html_facts: Any) -> list[Path]:
    """Write changes.csv and changes.html (``html_facts``: :func:`changes_html`'s keywords) into ``folder``,
    both 0600; returns their paths. The CSV is checked against its contract before anything is written."""
    rows = list(rows)
    text = changes_csv(rows)
    page = changes_html(rows, **html_facts)
    private_dir(folder)
    return [write_private(folder / "changes.csv", text), write_private(folder / "changes.html", page)]
