#!/bin/sh
# Redraws the guides' pictures of report.html from a real validation of the sample program's block 2027-B01.
#
#   docs/images/refresh.sh            run the screenshot test, then copy its pictures here
#   docs/images/refresh.sh --solve    first solve the sample block again (when the sample program changed)
#
# The test (tests/browser/test_report_screenshots.py) writes every section at 1400 px, the printed PDF and
# each printed page into var/screenshots/; this script copies the few the guides show (docs/data-stewards.md,
# docs/coordinators.md), and the at-a-glance picture of tests/browser/test_report_glance.py (a generation run).
# It needs /usr/bin/chromium; with ROTAFLOW_SCREENSHOTS_CONTINGENCY=n1 the report also holds the N-1
# contingency analysis (about a minute more), and its chart is copied too.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python=.venv/bin/python
if [ "${1:-}" = "--solve" ]; then
    "$python" -m tests.browser.test_report_screenshots --solve
fi
ROTAFLOW_TEST_REQUIRE_BROWSER=1 "$python" -m pytest -q -p no:cacheprovider tests/browser/test_report_screenshots.py
shots=var/screenshots
for name in header coverage hours schedule schedule-explained; do
    cp "$shots/report-$name.png" "docs/images/report-$name.png"
done
if [ "${ROTAFLOW_SCREENSHOTS_CONTINGENCY:-none}" != none ]; then
    cp "$shots/report-contingency.png" docs/images/report-contingency.png
fi
# At a glance of a generation run (published, backed up, with its N-1 analysis): the tiny program through the
# generate flow (about a minute)
ROTAFLOW_TEST_REQUIRE_BROWSER=1 "$python" -m pytest -q -p no:cacheprovider tests/browser/test_report_glance.py
cp "$shots/report-glance.png" docs/images/report-glance.png
# the first printed page of the grid: the one whose text starts a week table
page=$("$python" - <<'PY'
from pathlib import Path
from tests.browser.test_report_screenshots import pdf_pages_text
texts = pdf_pages_text(Path("var/screenshots/report.pdf").read_bytes())
print(next(n for n, text in enumerate(texts, start=1) if "Week 1:" in text))
PY
)
cp "$shots/report-print-$page.png" docs/images/report-print-week.png
ls -l docs/images/*.png
