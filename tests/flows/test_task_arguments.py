"""Task arguments handed over as they are (rotaflow.tasks.arguments.as_is): Prefect does not walk through them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import flow, task

from rotaflow.tasks.arguments import as_is


class Cells(list[int]):
    """A list that counts how often something walks through it."""

    walks = 0

    def __iter__(self) -> Any:
        Cells.walks += 1
        return super().__iter__()


@dataclass
class Block:
    cells: Cells = field(default_factory=lambda: Cells(range(1000)))


@task
def count(block: Block) -> tuple[int, Block]:
    return len(block.cells), block


def test_a_task_given_an_argument_as_is_receives_that_object_unwalked() -> None:
    block = Block()

    @flow
    def run() -> tuple[tuple[int, Block], tuple[int, Block]]:
        Cells.walks = 0
        as_given = count(as_is(block))
        walks_as_is = Cells.walks
        walked = count(block)
        assert walks_as_is == 0
        assert Cells.walks > 0  # without it, Prefect walks through every cell
        return as_given, walked

    (size, received), (other_size, other) = run()
    assert received is block and other is block
    assert size == other_size == 1000
