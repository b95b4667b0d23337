"""Small helpers the rule modules share: labels, dates and time pairs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from rotaflow.constraints.instance import Instance, Slot

__all__ = ["date_label", "history_days", "history_run", "hours", "implying_neighbours", "kept_windows", "slot_pairs"]


def date_label(instance: Instance, day: int) -> str:
    return instance.date(day).isoformat()


def history_days(inst: Instance, person: str, *, kinds: Iterable[str] | None = None) -> dict[int, set[str]]:
    """Day index (negative: before the horizon) → the shifts ``person`` started that local day in
    history (only shifts of ``kinds``, when given)."""
    wanted = None if kinds is None else set(kinds)
    out: dict[int, set[str]] = {}
    for h in inst.history_of(person):
        if wanted is None or h.kind in wanted:
            out.setdefault(inst.day_index(h.start.astimezone(inst.zone).date()), set()).add(h.shift)
    return out


def history_run(days: Iterable[int]) -> int:
    """How many days in a row, up to the day before the horizon (day -1), are among ``days``."""
    marked, count = set(days), 0
    while -(count + 1) in marked:
        count += 1
    return count


def hours(minutes: float) -> float:
    return round(minutes / 60.0, 2)


def slot_pairs(instance: Instance, *, max_gap: dt.timedelta) -> Iterator[tuple[Slot, Slot]]:
    """Ordered pairs (a, b), a starting no later than b, with b starting before a ends + ``max_gap``."""
    yield from _pairs(id(instance), instance, max_gap)


def _pairs(key: int, instance: Instance, max_gap: dt.timedelta) -> tuple[tuple[Slot, Slot], ...]:
    cache = instance.meta.setdefault("_pairs", {})
    assert isinstance(cache, dict)
    if max_gap not in cache:
        slots = sorted(instance.slots(), key=lambda s: (s.start, s.shift))
        out = []
        for i, a in enumerate(slots):
            limit = a.end_with_transition + max_gap
            for b in slots[i + 1 :]:
                if b.start >= limit:
                    break
                out.append((a, b))
        cache[max_gap] = tuple(out)
    return cache[max_gap]  # type: ignore[no-any-return]


def implying_neighbours(windows: list[tuple[int, int]], terms: list[dict[int, int]], days: int) -> list[int | None]:
    """For each sliding window (first, last day; ``terms``: place → coefficient, all ≥ 0), the window
    whose sum, kept at a bound no greater, keeps this one's too, or None.

    A window that starts before the horizon is implied by the next one (the same days and one more) and one
    that ends after it, starting inside, by the one before, when each of its terms is in that window with a
    coefficient at least as large. The pointers never form a cycle: they lead towards the window starting on
    the first day, and from there towards windows that lie inside the horizon, which point nowhere.
    """
    index = {first: j for j, (first, _) in enumerate(windows)}
    out: list[int | None] = []
    for j, (first, last) in enumerate(windows):
        other = index.get(first + 1) if first < 0 else index.get(first - 1) if first > 0 and last >= days else None
        if other is not None and any(terms[other].get(place, 0) < c for place, c in terms[j].items()):
            other = None
        out.append(other)
    return out


def kept_windows(implying: list[int | None], bounds: list[int]) -> list[bool]:
    """Whether each window's constraint ``Σ ≤ bound`` must be written: not when the window ``implying``
    names has a bound no greater (its constraint, written or implied in turn, already keeps this one)."""
    return [other is None or bounds[other] > bound for other, bound in zip(implying, bounds, strict=True)]
