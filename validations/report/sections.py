"""The HTML of the report's header and sections: key numbers, run summary, findings, schedule grid,
rules and links. Every value from the data is escaped."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from rotaflow.validations.report.common import (
    FINDING_COLUMNS,
    PERSONAL_COLUMNS,
    SEVERITY_ORDER,
    SUMMARY_ORDER,
    ReportData,
    _fmt,
    _hard_violations,
    _missing,
    _num,
    _text,
    _warning_count,
    esc,
    passed,
)
from rotaflow.validations.report.grid import _num_date, _schedule_section  # noqa: F401  (the grid's own module)


def _header(data: ReportData, facts: list[tuple[str, str]]) -> str:
    summary = data.summary
    ok = passed(data)
    violations = _hard_violations(data)
    warnings = _warning_count(data)
    status = _fmt(summary.get("status", "unknown"))
    if ok:
        badge = '<span class="badge badge-pass" role="status">PASS</span>'
        verdict = f"no hard violations, {warnings} warning{'s' if warnings != 1 else ''} (status {status})"
    else:
        badge = '<span class="badge badge-fail" role="status">FAIL</span>'
        verdict = f"{violations} hard violation{'s' if violations != 1 else ''}, status {status}"
    cards = "".join(
        f'<div class="card"><div class="card-value">{esc(value)}</div><div class="card-label">{esc(label)}</div></div>'
        for label, value in facts
    )
    program = _text(summary.get("program", ""))
    block = _text(summary.get("block_id", ""))
    return (
        '<header class="top">'
        f"<h1>Validation report — {program}{(' · block ' + block) if block else ''}</h1>"
        f'<div class="verdict">{badge}<span class="verdict-text">{esc(verdict)}</span></div>'
        f'<section aria-label="key numbers" class="cards">{cards}</section>'
        "</header>"
    )


def _facts(data: ReportData) -> list[tuple[str, str]]:
    """The key numbers shown as cards (label, value)."""
    summary = data.summary
    facts: list[tuple[str, str]] = [
        ("status", _fmt(summary.get("status", "unknown"))),
        ("hard violations", str(_hard_violations(data))),
        ("warnings", str(_warning_count(data))),
    ]
    assignments = data.assignments
    if "person_id" in assignments and "role" in assignments:  # faculty are not residents
        residents = assignments.loc[assignments["role"].astype(str) == "resident", "person_id"]
        facts.append(("residents scheduled", str(residents.nunique())))
    elif "person_id" in assignments:  # roles unknown: say what is counted
        facts.append(("people scheduled", str(assignments["person_id"].nunique())))
    facts.append(("assignments", str(len(assignments))))
    if "hours" in assignments:
        facts.append(("hours scheduled", _fmt(round(float(pd.to_numeric(assignments["hours"]).sum()), 1))))
    objective, bound = _num(summary.get("objective")), _num(summary.get("best_bound"))
    if objective is not None:
        facts.append(("objective", _fmt(objective)))
    if objective is not None and bound is not None:
        gap = abs(objective - bound) / max(abs(objective), 1e-9) if objective else 0.0
        facts.append(("optimality gap", f"{100 * gap:.1f} %"))
    seconds = _num(summary.get("solve_seconds"))
    if seconds is not None:
        facts.append(("solve time", f"{seconds:.1f} s"))
    return facts


#: findings.csv's date columns (``td.date``: never wrapped)
DATE_COLUMNS = {"window_start", "window_end", "date"}
#: what the generation run says of itself: shown first, as "the run", and redrawn from summary.json once the
#: run has published and backed up (``refresh_publication``)
RUN_KEYS = (
    "run_id",
    "status",
    "objective",
    "best_bound",
    "solve_seconds",
    "time_limit_seconds",
    "program_version",
    "based_on_version",
    "published",
    "version",
    "backup",
    "penalties",
    "engine_check_violations",
    "repair",
)
#: shown elsewhere on the page (the rule list, the diagnosis) or repeated from the validation
NOT_IN_TABLES = {"diagnosis", "rules", "validation"}
#: list entries written out in full up to this many
LISTED = 60


def _summary_value(value: Any, depth: int = 0) -> str:
    """A value as HTML: a scalar as text, a list of ids as a list, a mapping as a small table of its own,
    a list of records as a table; only what is nested deeper than that is shown as JSON."""
    if isinstance(value, Mapping):
        if not value:
            return '<span class="note">none</span>'
        if depth >= 2:
            return _folded_json(value)
        rows = "".join(
            f"<tr><th scope='row'>{esc(str(k))}</th><td>{_summary_value(v, depth + 1)}</td></tr>"
            for k, v in value.items()
            if str(k).lower() not in PERSONAL_COLUMNS
        )
        return f'<table class="facts nested"><tbody>{rows}</tbody></table>'
    if isinstance(value, list | tuple):
        if not value:
            return '<span class="note">none</span>'
        if all(isinstance(v, Mapping) for v in value) and depth < 2:
            return _records_table(value, depth)
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            text = ", ".join(_text(v) for v in value[:LISTED])
            if len(value) > LISTED:
                rest = ", ".join(_text(v) for v in value[LISTED:])
                text += f" <details><summary>and {len(value) - LISTED} more</summary>{rest}</details>"
            return text
        return _folded_json(value)
    return _text(value)


def _folded_json(value: Any) -> str:
    text = json.dumps(value, default=_fmt, ensure_ascii=False, indent=2)
    return f"<details><summary>{len(value)} entries</summary><pre>{esc(text)}</pre></details>"


def _records_table(records: list[Any] | tuple[Any, ...], depth: int) -> str:
    columns: list[str] = []
    for record in records:
        columns += [str(k) for k in record if str(k) not in columns and str(k).lower() not in PERSONAL_COLUMNS]
    head = "".join(f"<th scope='col'>{esc(c)}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_summary_value(record.get(c), depth + 1)}</td>" for c in columns) + "</tr>"
        for record in records
    )
    table = f'<table class="facts records"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    if len(records) > LISTED:
        return f"<details><summary>{len(records)} rows</summary>{table}</details>"
    return table


def _publication_text(summary: Mapping[str, Any]) -> str:
    published = summary.get("published")
    version = summary.get("version")
    if published is True:
        return "yes" + (f", as version {_text(version)}" if not _missing(version) else "")
    if published is False:
        return "no"
    if "run_id" not in summary:
        return '<span class="note">no: a validation of a schedule file publishes nothing</span>'
    return '<span class="note">not yet (the run had not reached publishing when this page was written)</span>'


def _backup_text(backup: Any) -> str:
    if isinstance(backup, Mapping) and not _missing(backup.get("backup_id")):
        bits = [f"<code>{_text(backup['backup_id'])}</code>"]
        bits += [f"{esc(k)} {_text(backup[k])}" for k in ("tier", "verified") if k in backup]
        return " · ".join(bits)
    if isinstance(backup, Mapping) and backup.get("error"):
        return f"failed: {_text(backup['error'])}"
    return '<span class="note">not backed up</span>'


def _penalties_text(penalties: Any) -> str:
    if not isinstance(penalties, Mapping) or not penalties:
        return '<span class="note">none</span>'
    ordered = sorted(penalties.items(), key=lambda kv: (-(_num(kv[1]) or 0), str(kv[0])))
    rows = "".join(
        f"<tr><th scope='row'><code>{esc(str(rule))}</code></th><td class='num'>{_text(amount)}</td></tr>"
        for rule, amount in ordered
    )
    return f'<table class="facts nested penalties"><tbody>{rows}</tbody></table>'


def run_table(summary: Mapping[str, Any]) -> str:
    """The run's own facts (status, objective, per-rule penalties, publication, version, backup) between the
    ``run`` markers, so that ``refresh_publication`` can redraw it from summary.json."""
    rows: list[tuple[str, str]] = []
    for key in RUN_KEYS:
        if key == "published":
            rows.append(("published", _publication_text(summary)))
        elif key == "version":
            continue  # with published
        elif key == "backup":
            rows.append(("backup", _backup_text(summary.get("backup"))))
        elif key == "penalties":
            if "penalties" in summary or "objective" in summary:
                rows.append(("penalties (soft rules)", _penalties_text(summary.get("penalties"))))
        elif key in summary:
            rows.append((key.replace("_", " "), _summary_value(summary[key])))
    body = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        "<!--rotaflow:run-->"
        f'<table class="facts" id="run-table"><caption>The run</caption><tbody>{body}</tbody></table>'
        "<!--/rotaflow:run-->"
    )


def _summary_table(summary: Mapping[str, Any]) -> str:
    keys = [k for k in SUMMARY_ORDER if k in summary and k not in RUN_KEYS]
    keys += sorted(k for k in summary if k not in SUMMARY_ORDER and k not in RUN_KEYS and k not in NOT_IN_TABLES)
    keys = [k for k in keys if str(k).lower() not in PERSONAL_COLUMNS]
    rows = "".join(
        f"<tr><th scope='row'>{esc(str(k).replace('_', ' '))}</th><td>{_summary_value(summary[k])}</td></tr>"
        for k in keys
    )
    out = run_table(summary)
    out += (
        '<table class="facts" id="schedule-facts"><caption>The schedule and its checks</caption>'
        f"<tbody>{rows}</tbody></table>"
    )
    diagnosis = summary.get("diagnosis")
    if diagnosis:
        items = diagnosis if isinstance(diagnosis, list | tuple) else [diagnosis]
        lis = "".join(f"<li>{_text(item)}</li>" for item in items)
        out += f'<div class="diagnosis"><h3>Why no schedule exists (diagnosis)</h3><ul>{lis}</ul></div>'
    return out


def _findings_section(findings: pd.DataFrame) -> str:
    if findings.empty:
        return '<p class="note">No findings: every rule holds.</p>'
    frame = findings.copy()
    columns = [c for c in FINDING_COLUMNS if c in frame.columns]
    frame["_order"] = frame["severity"].map(SEVERITY_ORDER).fillna(9) if "severity" in frame else 9
    sort_by = ["_order"] + [c for c in ("rule", "person_id", "window_start") if c in frame.columns]
    frame = frame.sort_values(sort_by, kind="stable", key=lambda s: s.astype(str) if s.name != "_order" else s)
    counts = ""
    if {"rule", "severity"} <= set(frame.columns):
        table = frame.groupby(["rule", "severity"]).size().unstack(fill_value=0)
        severities = [s for s in SEVERITY_ORDER if s in table.columns]
        head = "".join(f"<th scope='col'>{esc(s)}</th>" for s in severities)
        body = "".join(
            f"<tr><th scope='row'><code>{esc(str(rule))}</code></th>"
            + "".join(f"<td class='num'>{int(table.loc[rule, s])}</td>" for s in severities)
            + "</tr>"
            for rule in table.index
        )
        counts = (
            f'<table class="counts"><caption>findings per rule</caption><thead><tr><th scope="col">rule</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    head = "".join(
        f'<th scope="col" data-label="{esc(c)}">'
        f'<button type="button" class="sort" data-col="{i}">{esc(c)}</button></th>'
        for i, c in enumerate(columns)
    )
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for column in columns:
            value = record.get(column)
            if column == "severity":
                severity = str(value).lower()
                css = severity if severity in SEVERITY_ORDER else "other"
                badge = f'<span class="sev sev-{css}">{_text(value)}</span>'
                cells.append(f'<td data-v="{SEVERITY_ORDER.get(severity, 9)}">{badge}</td>')
            elif column in ("value", "limit"):
                number = _num(value)
                cells.append(f'<td class="num" data-v="{"" if number is None else number}">{_text(value)}</td>')
            elif column in DATE_COLUMNS:  # a date stays on one line, on screen and printed
                cells.append(f'<td class="date">{_text(value)}</td>')
            else:
                cells.append(f"<td>{_text(value)}</td>")
        severity = str(record.get("severity", "")).lower()
        rows.append(f'<tr class="row-{severity if severity in SEVERITY_ORDER else "other"}">{"".join(cells)}</tr>')
    return (
        counts
        + f'<div class="scroll"><table class="findings sortable" id="findings-table"><caption>{len(frame)} findings '
        "(click a column heading to sort)</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _rules_section(data: ReportData) -> str:
    rules = list(data.rules)
    if not rules and isinstance(data.summary.get("rules"), list | tuple):
        rules = [(str(name), "") for name in data.summary["rules"]]
    if not rules:
        return '<p class="note">No rule list was given.</p>'
    tally: dict[tuple[str, str], int] = {}
    if {"rule", "severity"} <= set(data.findings.columns):
        for (rule, severity), count in data.findings.groupby(["rule", "severity"]).size().items():
            tally[(str(rule), str(severity))] = int(count)
    items = []
    for name, summary in rules:
        marks = "".join(
            f' <span class="sev sev-{s}">{tally[(name, s)]} {esc(s)}{"s" if tally[(name, s)] != 1 else ""}</span>'
            for s in SEVERITY_ORDER
            if tally.get((name, s))
        )
        text = f": {esc(summary)}" if summary else ""
        items.append(f"<li><code>{esc(name)}</code>{text}{marks}</li>")
    return f'<ul class="rules">{"".join(items)}</ul>'


def _safe_href(href: str) -> str | None:
    """Relative links (and plain http/https); anything with another scheme (``javascript:``...) is dropped."""
    text = str(href).strip()
    if not text or any(ord(c) < 32 for c in text):
        return None
    scheme = urlsplit(text).scheme.lower()
    if scheme and scheme not in {"http", "https"}:
        return None
    return text


def _links_section(links: Mapping[str, str]) -> str:
    items = []
    for label, href in links.items():
        safe = _safe_href(href)
        if safe is None:
            items.append(
                f"<li>{esc(str(label))} <span class='note'>(link withheld: not a relative address)</span></li>"
            )
        else:
            items.append(f'<li><a href="{esc(safe, quote=True)}" rel="noopener">{esc(str(label))}</a></li>')
    return f'<ul class="links">{"".join(items)}</ul>'
