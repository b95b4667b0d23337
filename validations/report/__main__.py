"""Preview: ``python -m rotaflow.validations.report [OUT.html [RESIDENTS DAYS]]`` writes the example report."""

from __future__ import annotations

if __name__ == "__main__":  # pragma: no cover - preview
    import sys

    from rotaflow.validations.report import example_data, render_report

    target = sys.argv[1] if len(sys.argv) > 1 else "report-example.html"
    size = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (12, 28)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(render_report(example_data(*size)))
    print(target)
