"""Pictures of report.html from a real validation, and its printed pages, checked in headless Chromium.

The report is written by ``write_validation`` for the sample program's block 2027-B01 (people, rotations and
leave from the bundle; explanations from ``rotaflow.services.explain``), validating the schedule a CP-SAT run
produced for it (tests/fixtures/sample-2027-B01-assignments.csv; ``python -m tests.browser.test_report_screenshots
--solve`` solves it again). Written to var/screenshots/: report-<section>.png (each section at 1400 px wide, and
report-header.png), report-schedule-explained.png (a grid cell's explanation open), report.pdf (printed A4
landscape) and report-print-<n>.png (each printed page, drawn by Chromium's own PDF viewer). docs/images/refresh.sh
copies the guides' pictures from there. Skipped when /usr/bin/chromium or Playwright is missing, unless
ROTAFLOW_TEST_REQUIRE_BROWSER=1; ROTAFLOW_SCREENSHOTS_CONTINGENCY=n1 adds the N-1 analysis (about a minute).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any, Literal, cast

import pandas as pd
import pytest

from tests.browser.conftest import REQUIRED

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "var" / "screenshots"
PROGRAM = ROOT / "configs" / "programs" / "sample"
BLOCK = "2027-B01"
SCHEDULE = ROOT / "tests" / "fixtures" / f"sample-{BLOCK}-assignments.csv"
WIDTH = 1400


def write_report(folder: Path) -> Path:
    """A real validation of the sample block's solved schedule, written as a run writes it (no Data Docs)."""
    from rotaflow.services.validate import validate, write_validation
    from rotaflow.validations.schedule import load_schedule
    from tests.schedules import load

    bundle = load(PROGRAM)
    order = os.environ.get("ROTAFLOW_SCREENSHOTS_CONTINGENCY", "none")
    contingency = cast(Literal["none", "n1", "n2"], order if order in ("n1", "n2") else "none")
    validation = validate(bundle, load_schedule(bundle, SCHEDULE.read_bytes()), block_id=BLOCK, contingency=contingency)
    summary = {"run_id": f"sample-{BLOCK}", "block_id": BLOCK, "status": "feasible"}
    write_validation(folder, validation, bundle, summary=summary, data_docs=False)
    return folder / "report.html"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Path:
    path = write_report(tmp_path_factory.mktemp("sample-report"))
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, OUT / "report.html")
    return path


def open_page(browser: Any, report: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.goto(report.as_uri(), wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every(d => d.querySelector('svg.main-svg'))",
        timeout=30_000,
    )
    return page, errors


INK_JS = """async b64 => {
  const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
  const canvas = document.createElement('canvas'); canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d'); ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, img.width, img.height).data;
  const colours = new Set(); let ink = 0;
  for (let i = 0; i < px.length; i += 4 * 7) {
    const light = px[i] > 235 && px[i + 1] > 235 && px[i + 2] > 235;
    const dark = px[i] < 60 && px[i] === px[i + 1] && px[i] === px[i + 2];  // the PDF viewer's grey
    if (!light && !dark) { ink++; colours.add(px[i] >> 4 << 8 | px[i + 1] >> 4 << 4 | px[i + 2] >> 4); }
  }
  return {width: img.width, height: img.height, ink: ink / (px.length / 4 / 7), colours: colours.size};
}"""


def ink(browser: Any, png: bytes) -> dict[str, float]:
    """How much of a PNG is neither white paper nor the PDF viewer's grey, and how many colours that ink has
    (measured in a blank page)."""
    pages = [page for context in browser.contexts for page in context.pages if page.url == "about:blank"]
    page = pages[0] if pages else browser.new_page()  # one blank page does every measurement
    return cast(dict[str, float], page.evaluate(INK_JS, base64.b64encode(png).decode()))


def test_each_section_is_pictured_at_1400_px(browser: Any, report: Path) -> None:
    page, errors = open_page(browser, report)
    ids = page.eval_on_selector_all("section[id]", "sections => sections.map(s => s.id)")
    for expected in ("summary", "coverage", "hours", "utilisation", "burnout", "findings", "schedule", "rules"):
        assert expected in ids
    shots = {"header": page.locator("header.top").screenshot(path=str(OUT / "report-header.png"))}
    for section in ids:
        shots[section] = page.locator(f"section#{section}").screenshot(path=str(OUT / f"report-{section}.png"))
    for name, png in shots.items():
        measured = ink(browser, png)
        assert measured["width"] >= WIDTH - 100, (name, measured)  # the section spans the page, at 1400 px
        assert measured["ink"] > 0.01 and measured["colours"] >= 2, (name, measured)  # drawn, not blank
        assert (OUT / f"report-{name}.png").stat().st_size == len(png)
    # the grid's picture holds its colours: shifts, rotation bands, hatched leave
    assert ink(browser, shots["schedule"])["colours"] >= 8
    assert errors == []
    page.close()


def test_the_grid_shows_every_person_with_rotation_and_leave(browser: Any, report: Path) -> None:
    from tests.schedules import load

    page, errors = open_page(browser, report)
    people = load(PROGRAM).frames["people"]
    rows = page.eval_on_selector_all(
        "#schedule-grid tbody tr", "rows => rows.map(r => [...r.cells].slice(0, 4).map(c => c.textContent))"
    )
    assert len(rows) == len(people)  # everyone, also those with no shift in the block
    by_id = {row[0]: row for row in rows}
    for person in people.itertuples():
        role, pgy, rotation = by_id[person.person_id][1:4]
        assert role == person.role
        assert pgy == ("—" if person.role == "faculty" else str(person.pgy))
        assert (rotation != "") == (person.role == "resident")  # every resident has the block's rotation
    # absences.csv: F008 on a blocking vacation from 07-09 to 07-22, R002 at a non-blocking conference 07-11/12
    first = int(page.get_attribute("#schedule-grid", "data-first") or 0)
    cell = "([p, i]) => document.querySelector(`#schedule-grid tr[data-p='${p}']`).cells[i].className"
    assert "lv-b" in page.evaluate(cell, ["F008", first + 8]) and "lv-b" not in page.evaluate(cell, ["F008", first])
    assert "lv-o" in page.evaluate(cell, ["R002", first + 10])
    assert errors == []
    page.close()


def test_a_clicked_cell_explains_itself_and_the_keyboard_reaches_every_cell(browser: Any, report: Path) -> None:
    page, errors = open_page(browser, report)
    data = json.loads(page.inner_text("#grid-data"))
    first = int(page.get_attribute("#schedule-grid", "data-first") or 0)
    row = page.locator("#schedule-grid tbody tr[data-p='R001']")
    worked = next(i for i, c in enumerate(row.locator("td").all_inner_texts()) if c.strip() and i >= first - 1)
    target = row.locator("td").nth(worked)  # td index: the th (person) is not a td
    date = data["dates"][worked + 1 - first]
    shift = target.inner_text().split()[0]
    target.click()
    panel = page.locator("#cell-explain")
    assert panel.is_visible()
    assert page.inner_text("#explain-title").startswith(f"R001 · {date} · {shift} · rotation ")
    assert data["explain"]["R001"][date][shift] in page.inner_text("#explain-body").replace("\r", "")
    page.locator("#schedule").screenshot(path=str(OUT / "report-schedule-explained.png"))

    # keyboard: the clicked cell holds the focus; right, down, Enter opens the next explanation; Escape closes
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    below = data["dates"][worked + 2 - first]
    title = page.inner_text("#explain-title")
    assert title.startswith(f"R002 · {below} · ")
    texts = data["explain"]["R002"][below]
    assert any(text in page.inner_text("#explain-body").replace("\r", "") for text in texts.values())
    page.keyboard.press("Escape")
    assert not panel.is_visible()
    focused = page.evaluate("() => [document.activeElement.parentNode.dataset.p, document.activeElement.cellIndex]")
    assert focused == ["R002", worked + 2]
    assert errors == []
    page.close()


def test_a_cell_without_explanation_names_the_command(browser: Any, tmp_path: Path) -> None:
    from rotaflow.validations.report import ReportData, render_report

    assignments = pd.DataFrame({"person_id": ["R1"], "date": ["2027-07-01"], "shift_id": ["DAY"]})
    data = ReportData(
        summary={"program": "p", "block_id": "B1", "period_start": "2027-07-01", "period_end": "2027-07-02"},
        findings=pd.DataFrame(),
        assignments=assignments,
    )
    path = tmp_path / "report.html"
    path.write_text(render_report(data), encoding="utf-8")
    page = browser.new_page(viewport={"width": WIDTH, "height": 700})
    page.goto(path.as_uri())
    page.locator("#schedule-grid tbody td").nth(1).click()
    assert page.inner_text("#explain-title") == "R1 · 2027-07-02 · no shift"
    assert "rotaflow explain --program PATH --block B1 --person R1 --date 2027-07-02" in page.inner_text(
        "#explain-body"
    )
    page.locator(".explain-close").click()
    assert not page.locator("#cell-explain").is_visible()
    page.close()


# --------------------------------------------------------------------------- print


def pdf_pages_text(data: bytes) -> list[str]:
    """Each page's text of a PDF as Chromium (Skia) writes it: uncompressed object table, Flate content
    streams, Identity-H fonts with ToUnicode maps. Enough to read back what was printed, not a general reader."""
    objs = {int(m[1]): m[2] for m in re.finditer(rb"(?<![0-9])(\d+) 0 obj\s*(.*?)\bendobj", data, re.S)}

    def ref(body: bytes, key: bytes) -> int | None:
        found = re.search(rb"/" + key + rb"\s+(\d+) 0 R", body)
        return int(found[1]) if found else None

    def stream(n: int) -> bytes:
        head, _, rest = objs[n].partition(b"stream")
        rest = re.sub(rb"^\r?\n", b"", rest)
        length = re.search(rb"/Length (\d+)(?! 0 R)", head)
        raw = rest[: int(length[1])] if length else rest.rsplit(b"endstream", 1)[0].rstrip(b"\r\n")
        return zlib.decompress(raw) if b"/FlateDecode" in head else raw

    def utf16(hexed: bytes) -> str:
        return bytes.fromhex(hexed.decode()).decode("utf-16-be")

    def cmap(n: int) -> dict[bytes, str]:
        text, out = stream(n), {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
            for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                out[bytes.fromhex(src.decode())] = utf16(dst)
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
            for low, high, dst in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])", block
            ):
                codes = range(int(low, 16), int(high, 16) + 1)
                if dst.startswith(b"["):
                    targets = [utf16(t) for t in re.findall(rb"<([0-9A-Fa-f]+)>", dst)]
                else:
                    base = bytes.fromhex(dst[1:-1].decode())
                    start = int.from_bytes(base[-2:], "big")
                    targets = [
                        (base[:-2] + (start + i).to_bytes(2, "big")).decode("utf-16-be") for i in range(len(codes))
                    ]
                for code, target in zip(codes, targets, strict=False):
                    out[code.to_bytes(len(low) // 2, "big")] = target
        return out

    def leaves(n: int) -> list[int]:
        if re.search(rb"/Type\s*/Pages\b", objs[n]):
            kids = re.search(rb"/Kids\s*\[(.*?)\]", objs[n], re.S)
            return [p for k in re.findall(rb"(\d+) 0 R", kids[1] if kids else b"") for p in leaves(int(k))]
        return [n]

    catalog = next(body for body in objs.values() if re.search(rb"/Type\s*/Catalog\b", body))
    maps: dict[int, dict[bytes, str]] = {}
    pages = []
    for page in leaves(ref(catalog, b"Pages") or 0):
        body = objs[page]
        block = re.search(rb"/Font\s*<<(.*?)>>", body, re.S)
        fonts = {name: int(num) for name, num in re.findall(rb"/(\w+)\s+(\d+) 0 R", block[1] if block else b"")}
        contents = re.search(rb"/Contents\s*(\[.*?\]|\d+ 0 R)", body, re.S)
        content = b"\n".join(stream(int(n)) for n in re.findall(rb"(\d+) 0 R", contents[1] if contents else b""))
        current: dict[bytes, str] = {}
        parts = []
        for m in re.finditer(
            rb"/(\w+)\s+[-\d.]+\s+Tf|<([0-9A-Fa-f]*)>\s*Tj|\[((?:[^\]\\]|\\.)*)\]\s*TJ", content, re.S
        ):
            if m[1] is not None:
                font = fonts.get(m[1])
                unicode_map = ref(objs[font], b"ToUnicode") if font is not None else None
                if unicode_map is not None and unicode_map not in maps:
                    maps[unicode_map] = cmap(unicode_map)
                current = maps.get(unicode_map, {}) if unicode_map is not None else {}
                continue
            hexes = [m[2]] if m[2] is not None else re.findall(rb"<([0-9A-Fa-f]*)>", m[3])
            raw = b"".join(bytes.fromhex(h.decode()) for h in hexes)
            parts.append("".join(current.get(raw[i : i + 2], "") for i in range(0, len(raw), 2)))
        pages.append("".join(parts))
    return pages


def rasterise(browser: Any, pdf: Path, pages: int) -> list[bytes]:
    """Each page of ``pdf`` as Chromium's PDF viewer draws it, fitted to an A4 landscape window at 96 dpi:
    page 1, then Page Down for each next one; [] when the viewer does not draw in this Chromium."""
    view = browser.new_page(viewport={"width": 1123, "height": 794})
    try:
        view.goto(f"{pdf.as_uri()}#page=1&toolbar=0&navpanes=0&view=Fit", wait_until="load")
        shots: list[bytes] = []
        for _ in range(pages):
            last = b""
            for _ in range(80):  # until two pictures in a row agree, hold a page and differ from the page before
                view.wait_for_timeout(150)
                shot = view.screenshot()
                if shot == last and len(shot) > 8_000 and (not shots or shot != shots[-1]):
                    break  # the viewer's empty grey is about 4 kB
                last = shot
            else:
                return []
            shots.append(shot)
            view.mouse.click(1123 // 2, 794 // 2)  # the viewer takes the keys once clicked
            view.keyboard.press("PageDown")
        return shots
    finally:
        view.close()


def test_printed_on_a4_landscape_the_grid_shows_every_day(browser: Any, report: Path) -> None:
    page, errors = open_page(browser, report)
    dates = json.loads(page.inner_text("#grid-data"))["dates"]
    assert len(dates) == 28
    pdf = OUT / "report.pdf"
    page.pdf(path=str(pdf), format="A4", landscape=True, print_background=True)
    page.close()
    data = pdf.read_bytes()
    sizes = re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert sizes and all(float(w) > float(h) for w, h in sizes)  # landscape
    assert abs(float(sizes[0][0]) - 842) < 2 and abs(float(sizes[0][1]) - 595) < 2  # A4: 297 x 210 mm
    texts = pdf_pages_text(data)
    assert len(texts) >= 6
    everything = "".join(texts)
    assert "Validation report" in everything and "Rules checked" in everything
    # one table per week, each week's seven days in its head, each week starting on a page of its own rows
    for week in range(4):
        days = dates[7 * week : 7 * week + 7]
        caption = f"Week {week + 1}: {days[0]} – {days[-1]}"
        pages = [text for text in texts if caption in text]
        assert len(pages) == 1, caption
        for day in days:
            label = f"{dt.date.fromisoformat(day).strftime('%a')[:2]} {day[5:]}"
            assert label in pages[0], (caption, label)
    assert "R036" in everything and "F012" in everything
    assert "@example.org" not in everything

    for old in OUT.glob("report-print-*.png"):
        old.unlink()
    shots = rasterise(browser, pdf, len(texts))
    if not shots:
        if REQUIRED:
            pytest.fail("Chromium's PDF viewer drew no page")
        pytest.skip("Chromium's PDF viewer drew no page: report.pdf is written, its pages are not pictured")
    assert len(shots) == len(texts)
    for number, shot in enumerate(shots, start=1):
        (OUT / f"report-print-{number}.png").write_bytes(shot)
        measured = ink(browser, shot)
        assert measured["ink"] > 0.002 and measured["colours"] >= 3, (number, measured)  # printed, not blank
    assert errors == []


def main() -> None:  # pragma: no cover - the guides' refresh script
    """``--solve``: solve the sample block again into tests/fixtures (when the sample program changed)."""
    if "--solve" in sys.argv:
        from rotaflow.services import generate as service
        from rotaflow.validations.instances import block_instance, rules_for
        from tests.schedules import load

        bundle = load(PROGRAM)
        instance = block_instance(bundle, BLOCK)
        result = service.solve_block(instance, rules_for(bundle), service.load_solver_settings(time_limit_seconds=60))
        assert result.cells, f"no schedule for {BLOCK}: {result.status}"
        rows = service.assignment_rows(instance, result.cells)
        pd.DataFrame(rows)[["person_id", "date", "shift_id"]].to_csv(SCHEDULE, index=False, lineterminator="\n")
        print(f"{SCHEDULE}: {len(rows)} assignments ({result.status})")


if __name__ == "__main__":  # pragma: no cover
    main()
