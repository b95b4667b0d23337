"""The emergency restore chain's steps, each one journaled, and the recovery of an interrupted run.

The chain (``rotaflow.flows.restore.emergency_restore`` runs it as Prefect tasks)::

    find → 1 disk check → 2 verify the backup → 3 pre-snapshot → 4 confirmation
         → 5 restore into a new database, switch it in → 6 verify the live database

One module per seam: ``plan`` (find the backup, name what the run creates, start the journal),
``gates`` (1–3), ``confirmation`` (4), ``chain`` (5 and 6), ``rollback``, ``recovery``; ``result``: the
run's typed result (``RestoreResult``), filled in as the chain goes.

Each gate either passes or raises ``GateRefused`` with the live database untouched. Steps
5 and 6 can be undone: ``roll_back`` puts the previous database back (``undo_swap``) or,
when that is impossible, restores the pre-snapshot. Every step is written to the run's
journal (``rotaflow.backups.journal``) before its effect; ``recover_interrupted`` reads the journal
a killed run left behind, looks at which databases exist, and makes the live database
whole again: the original one when the switch had not happened, the restored one when it
had and it verifies, else the original one put back.
"""

from __future__ import annotations

from rotaflow.backups.emergency.chain import drop_staging, finish_success, stage_restore, switch_live, verify_live
from rotaflow.backups.emergency.confirmation import (
    confirmation_text,
    preview_text,
    record_confirmation,
    record_refusal,
)
from rotaflow.backups.emergency.gates import DiskGate, check_disk, take_pre_snapshot, verify_source
from rotaflow.backups.emergency.plan import (
    SOURCES,
    Found,
    Plan,
    Source,
    find_source,
    name_of,
    open_journal,
    plan_restore,
)
from rotaflow.backups.emergency.recovery import Recovery, recover_interrupted
from rotaflow.backups.emergency.rollback import roll_back

__all__ = [
    "SOURCES",
    "DiskGate",
    "Found",
    "Plan",
    "Recovery",
    "Source",
    "check_disk",
    "confirmation_text",
    "drop_staging",
    "find_source",
    "finish_success",
    "name_of",
    "open_journal",
    "plan_restore",
    "preview_text",
    "recover_interrupted",
    "record_confirmation",
    "record_refusal",
    "roll_back",
    "stage_restore",
    "switch_live",
    "take_pre_snapshot",
    "verify_live",
    "verify_source",
]
