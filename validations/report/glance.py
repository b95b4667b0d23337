"""The report's "At a glance" section, the figures it shows, and the patch that brings its publication
part up to date once the run has published and backed up (report.html is written during validation,
before either).

Every figure is an element ``data-glance="NAME"`` whose ``data-value`` holds the figure as JSON (the same
value summary.json / validation.json carry, so a test or a script can compare them) and whose text says
it in words. The names:

``published`` (true / false, null before the run has reached publishing), ``version`` (the block's
published version or null), ``backup_id`` (null when not backed up), ``n1_critical`` (the people whose
loss alone leaves a shift uncovered; null when the contingency analysis did not run), ``jeopardy_pool``
(the recommended internal stand-ins; null when not analysed; its ``data-size`` and the number shown are the
whole pool: the stand-ins plus one cross-cover backup per critical person), ``single_week_over_limit`` (residents above
the limit in at least one single 7-day week: ``common.week_limits``, null when no weekly hours were analysed)
and ``days_without_spare`` (dates on which a coverage requirement that needs someone has no one above its
minimum; the element's ``data-requirements`` maps each date to those requirements; null without coverage data).
A figure that is not known is said so and drawn neutral, never as a good result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rotaflow.files import write_private
from rotaflow.validations.report.common import (
    DEFAULT_WEEKLY_LIMIT,
    ReportData,
    _fmt,
    _iso_dates,
    _missing,
    _num,
    _people_of,
    _sorted_ids,
    above_limit,
    esc,
    week_limits,
)
from rotaflow.validations.report.sections import run_table

__all__ = [
    "GLANCE_NAMES",
    "PUBLICATION_END",
    "PUBLICATION_START",
    "days_without_spare",
    "glance_facts",
    "publication_html",
    "refresh_publication",
    "single_week_over_limit",
    "spare_gaps",
]

GLANCE_NAMES = (
    "published",
    "version",
    "backup_id",
    "n1_critical",
    "jeopardy_pool",
    "single_week_over_limit",
    "days_without_spare",
)
#: the publication part of the glance sits between these markers (``refresh_publication`` replaces it)
PUBLICATION_START = "<!--rotaflow:publication-->"
PUBLICATION_END = "<!--/rotaflow:publication-->"
#: ids listed in full up to this many; beyond it the first ones and "… and N more" (data-value has all)
SHOWN_IDS = 40
SHOWN_DATES = 10
#: dates listed when each names its requirements, and requirements named per date (data-requirements has all)
SHOWN_NAMED_DATES = 5
SHOWN_REQUIREMENTS = 3


# --------------------------------------------------------------------------- the figures


def single_week_over_limit(weekly: pd.DataFrame | None, limit_hours: float = DEFAULT_WEEKLY_LIMIT) -> list[str] | None:
    """Residents whose own total in at least one 7-day week of the weekly-hours table (``AcgmeReport.weekly``:
    person_id, week_start, hours, limit) is above that week's limit (``common.week_limits``: the row's own
    ``limit``, else ``limit_hours``). Allowed while the 4-week average holds. None when there is no weekly
    table to read (not analysed), [] when no one is above."""
    if weekly is None or weekly.empty or not {"person_id", "hours"} <= set(weekly.columns):
        return None
    over = above_limit(weekly["hours"], week_limits(weekly, limit_hours)).to_numpy()
    return _sorted_ids(weekly.loc[over, "person_id"])


def spare_gaps(coverage: pd.DataFrame | None) -> dict[str, list[str]] | None:
    """Date (ISO) -> the coverage requirements that need someone (min >= 1) and have no one above their minimum
    that day (exactly the minimum, or short of it): losing anyone on such a requirement leaves a gap unless
    someone is moved or called in. A requirement is named by its shift, with whom it counts when the shift
    has several requirements. Dates in order; None without coverage data."""
    if coverage is None or coverage.empty or not {"date", "shift_id", "min", "assigned"} <= set(coverage.columns):
        return None
    requirement = coverage["requirement"] if "requirement" in coverage else pd.Series("", index=coverage.index)
    frame = pd.DataFrame(
        {
            "date": _iso_dates(coverage["date"]).to_numpy(),
            "shift": coverage["shift_id"].astype(str).to_numpy(),
            "requirement": ["" if _missing(r) else str(r) for r in requirement],
            "min": pd.to_numeric(coverage["min"], errors="coerce").to_numpy(),
            "assigned": pd.to_numeric(coverage["assigned"], errors="coerce").fillna(0).to_numpy(),
        }
    )
    kinds = frame.drop_duplicates(["shift", "requirement"])
    several = set(kinds["shift"][kinds["shift"].duplicated()])
    tight = frame[(frame["min"] >= 1) & (frame["assigned"] <= frame["min"])]
    gaps: dict[str, list[str]] = {}
    for row in tight.sort_values(["date"], kind="stable").to_dict("records"):
        label = row["shift"]
        if row["shift"] in several and row["requirement"]:
            label += f" · {row['requirement']}"
        named = gaps.setdefault(str(row["date"]), [])
        if label not in named:
            named.append(label)
    return {date: _sorted_ids(labels) for date, labels in sorted(gaps.items())}


def days_without_spare(coverage: pd.DataFrame | None) -> list[str] | None:
    """The dates of ``spare_gaps`` (validation.json's ``days_without_spare``): days on which at least one
    coverage requirement that needs someone has no one above its minimum. None without coverage data."""
    gaps = spare_gaps(coverage)
    return None if gaps is None else list(gaps)


def _critical_from(contingency: pd.DataFrame | None) -> list[str] | None:
    """The people whose single loss (N-1) is uncovered, from the scenario frame."""
    if contingency is None or contingency.empty or "people" not in contingency:
        return None
    people = [_people_of(p) for p in contingency["people"]]
    singles = [p for p in people if len(p) == 1]
    if not singles:
        return None
    outcomes = contingency["outcome"] if "outcome" in contingency else pd.Series([""] * len(contingency))
    return _sorted_ids(
        p[0] for p, o in zip(people, outcomes, strict=True) if len(p) == 1 and _fmt(o).lower() == "uncovered"
    )


def glance_facts(data: ReportData) -> dict[str, Any]:
    """The glance's figures, from the summary (validation.json / summary.json) where it carries them, else
    from the report's frames by the same functions."""
    summary = data.summary
    backup = summary.get("backup")
    backup_id = backup.get("backup_id") if isinstance(backup, Mapping) else None
    contingency = contingency_of(summary) or None
    critical: list[str] | None
    pool: list[str] | None = None
    if isinstance(contingency, Mapping):
        critical = [str(p) for p in contingency.get("critical") or []]
        jeopardy = contingency.get("jeopardy")
        if isinstance(jeopardy, Mapping):
            pool = [str(p) for p in jeopardy.get("members") or []]
    else:
        critical = _critical_from(data.contingency)
    over = _given(summary, "single_week_over_limit")
    if over is None:
        limit = _num(_given(summary, "weekly_limit_hours")) or DEFAULT_WEEKLY_LIMIT
        over = single_week_over_limit(data.weekly_hours, limit)
    spare = _given(summary, "days_without_spare")
    if spare is None:
        spare = days_without_spare(data.coverage)
    version = summary.get("version")
    return {
        "published": summary["published"] if isinstance(summary.get("published"), bool) else None,
        "version": version if isinstance(version, int) and not isinstance(version, bool) else None,
        "backup_id": None if _missing(backup_id) else str(backup_id),
        "n1_critical": critical,
        "jeopardy_pool": pool,
        "single_week_over_limit": None if over is None else [str(p) for p in over],
        "days_without_spare": None if spare is None else [str(d) for d in spare],
    }


def contingency_of(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """The contingency analysis's summary: validation.json's ``contingency``, or summary.json's
    ``validation.contingency``; empty when it did not run."""
    found = _given(summary, "contingency")
    return found if isinstance(found, Mapping) else {}


def _given(summary: Mapping[str, Any], key: str) -> Any:
    """``summary[key]``, or summary.json's ``validation[key]``; None when neither has it."""
    if key in summary:
        return summary[key]
    validation = summary.get("validation")
    return validation.get(key) if isinstance(validation, Mapping) else None


# --------------------------------------------------------------------------- the markup


def _value(name: str, value: Any, text: str, **extra: Any) -> str:
    """One figure: its JSON in ``data-value`` (escaped for the attribute), its words as text."""
    attrs = "".join(f' data-{k}="{esc(str(v), quote=True)}"' for k, v in extra.items())
    payload = esc(json.dumps(value, ensure_ascii=False), quote=True)
    return f'<span class="glance-value" data-glance="{name}" data-value="{payload}"{attrs}>{text}</span>'


def _style(found: list[str] | None) -> str:
    """A figure's colour: neutral when not known, a warning when it lists anyone or anything, else good."""
    return "neutral" if found is None else "warn" if found else "ok"


def _gap_words(date: str, requirements: list[str]) -> str:
    """A date and (in brackets) the requirements without spare that day, the first few of them."""
    day = f'<time class="day">{esc(date)}</time>'  # a date is never broken across lines
    if not requirements:
        return day
    shown = ", ".join(esc(r) for r in requirements[:SHOWN_REQUIREMENTS])
    more = len(requirements) - SHOWN_REQUIREMENTS
    return f"{day} ({shown}{f', +{more} more' if more > 0 else ''})"


def _ids(values: list[str], limit: int = SHOWN_IDS) -> str:
    shown = ", ".join(esc(v) for v in values[:limit])
    more = len(values) - limit
    return shown + (f" … and {more} more" if more > 0 else "")


def publication_html(summary: Mapping[str, Any]) -> str:
    """The publication part of the glance (published, version, backup id), between its markers."""
    published = summary.get("published")
    version = summary.get("version")
    version = version if isinstance(version, int) and not isinstance(version, bool) else None
    backup = summary.get("backup")
    backup = backup if isinstance(backup, Mapping) else {}
    backup_id = None if _missing(backup.get("backup_id")) else str(backup.get("backup_id"))
    if published is True:
        state = _value("published", True, "published", state="yes")
        state += " as " + _value("version", version, f"version {version}" if version is not None else "a new version")
    elif published is False:
        state = _value("published", False, "not published", state="no") + _value("version", None, "")
    elif "run_id" not in summary:  # ``rotaflow validate`` of a schedule file: nothing to publish
        words = "not a generation run: validating a schedule publishes nothing"
        state = _value("published", None, words, state="none") + _value("version", None, "")
    else:
        state = _value("published", None, "not published yet", state="pending") + _value("version", None, "")
    if backup_id is not None:
        saved = "backup " + _value("backup_id", backup_id, f"<code>{esc(backup_id)}</code>")
    elif backup.get("error"):
        saved = _value("backup_id", None, "the backup failed", state="failed")
    elif backup.get("skipped"):  # told to publish without one (--no-backup)
        saved = _value("backup_id", None, f"not backed up ({esc(str(backup['skipped']))})")
    else:
        saved = _value("backup_id", None, "not backed up")
    return f"{PUBLICATION_START}<dd>{state}</dd><dd>{saved}</dd>{PUBLICATION_END}"


def _glance_section(data: ReportData) -> str:
    facts = glance_facts(data)
    items = [("Publication", publication_html(data.summary), "neutral")]
    critical = facts["n1_critical"]
    if critical is None:
        lost = _value("n1_critical", None, "not analysed (no contingency analysis in this run)")
    elif critical:
        lost = _value(
            "n1_critical", critical, f"<strong>{len(critical)}</strong>: {_ids(critical)}", count=len(critical)
        )
    else:
        lost = _value("n1_critical", [], "<strong>0</strong>: any one person can be lost", count=0)
    items.append(("N-1 critical people", f"<dd>{lost}</dd>", _style(critical)))
    pool = facts["jeopardy_pool"]
    if pool is None:
        jeopardy = _value("jeopardy_pool", None, "not analysed")
    else:
        sizing = contingency_of(data.summary).get("jeopardy") or {}
        cross = int(_num(sizing.get("cross_cover")) or 0)
        size = int(_num(sizing.get("size")) or len(pool) + cross)
        listed = _ids(pool) if pool else "no internal stand-in"
        if cross:
            shifts = [str(s) for s in sizing.get("cross_cover_shifts") or []]
            listed += f" + {cross} cross-cover backup{'s' if cross != 1 else ''} from outside the rotations"
            listed += f" (for {_ids(shifts)})" if shifts else ""
        jeopardy = _value("jeopardy_pool", pool, f"<strong>{size}</strong>: {listed}", size=size)
    items.append(("Jeopardy pool (backups)", f"<dd>{jeopardy}</dd>", "neutral" if pool is None else "ok"))
    over = facts["single_week_over_limit"]
    limit = _num(_given(data.summary, "weekly_limit_hours")) or DEFAULT_WEEKLY_LIMIT
    if over is None:
        above = _value("single_week_over_limit", None, "not known (no weekly hours were analysed)")
        note = ""
    else:
        words = f"<strong>{len(over)}</strong>" + (f": {_ids(over)}" if over else "")
        above = _value("single_week_over_limit", over, words, count=len(over))
        note = (
            f'<dd class="note">above the week\'s limit in a single 7-day week ({esc(_fmt(limit))} h, lower in a '
            "week whose 4-week window holds leave, as the ACGME rule counts it): allowed while the 4-week "
            "average holds, but worth watching</dd>"
        )
    items.append((f"Residents above {_fmt(limit)} h in a week", f"<dd>{above}</dd>{note}", _style(over)))
    spare = facts["days_without_spare"]
    gaps = spare_gaps(data.coverage) or {}
    if spare is None:
        days = _value("days_without_spare", None, "not known (no coverage data)")
        note = ""
    else:
        named = {d: gaps.get(d, []) for d in spare}
        shown = SHOWN_NAMED_DATES if any(named.values()) else SHOWN_DATES
        listed = ", ".join(_gap_words(d, named[d]) for d in spare[:shown])
        listed += f" … and {len(spare) - shown} more" if len(spare) > shown else ""
        words = f"<strong>{len(spare)}</strong>" + (f": {listed}" if spare else "")
        requirements = {d: r for d, r in named.items() if r}
        days = _value("days_without_spare", spare, words, count=len(spare), requirements=json.dumps(requirements))
        note = (
            '<dd class="note">a requirement (in brackets) at its minimum or below: losing anyone on it leaves '
            "a gap unless someone is moved or called in</dd>"
        )
    items.append(("Days without spare coverage", f"<dd>{days}</dd>{note}", _style(spare)))
    body = "".join(
        f'<div class="glance-item{" glance-" + css if css else ""}"><dt>{esc(label)}</dt>{value}</div>'
        for label, value, css in items
    )
    return (
        '<section id="glance" aria-labelledby="glance-h"><h2 id="glance-h">At a glance</h2>'
        f'<dl class="glance">{body}</dl></section>'
    )


# --------------------------------------------------------------------------- the patch


def _region(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"<!--rotaflow:{name}-->") + ".*?" + re.escape(f"<!--/rotaflow:{name}-->"), re.DOTALL)


_REGIONS = {"publication": (_region("publication"), publication_html), "run": (_region("run"), run_table)}


def patch_publication(page: str, summary: Mapping[str, Any]) -> str | None:
    """``page`` with its publication part (at a glance) and its run table redrawn from ``summary``; None when
    the page does not have exactly one of each."""
    for pattern, _ in _REGIONS.values():
        if len(pattern.findall(page)) != 1:
            return None
    for pattern, draw in _REGIONS.values():
        fresh = draw(summary)
        page = pattern.sub(lambda _, fresh=fresh: fresh, page)  # type: ignore[misc]
    return page


def refresh_publication(path: Path, summary: Mapping[str, Any]) -> bool:
    """Redraw the publication part and the run table of the report at ``path`` from ``summary`` (summary.json's
    content, once the run has published and backed up). No-op (False) when the report is absent, a symlink,
    or does not have exactly one of each part."""
    if path.is_symlink() or not path.is_file():
        return False
    page = path.read_text(encoding="utf-8")
    patched = patch_publication(page, summary)
    if patched is None:
        return False
    if patched != page:
        write_private(path, patched)
    return True
