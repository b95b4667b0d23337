"""Vocabularies the contracts check and the command line names in its help, without pandas or Pandera
(``rotaflow --help`` reads them; ``rotaflow.validations.contracts`` builds its models on them)."""

from __future__ import annotations

__all__ = ["ABSENCE_TYPES"]

ABSENCE_TYPES = [
    "vacation",
    "sick",
    "conference",
    "parental",
    "bereavement",
    "medical",
    "deployment",
    "other",
]
