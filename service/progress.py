"""Progress bars for long-running commands: count, rate, elapsed and ETA, on stderr."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, from rich's own moving estimate."""

    def __init__(self, unit: str = "ev/s"):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{speed:,.0f} {self.unit}", style="progress.data.speed")


def progress(console: Console | None = None, unit: str = "ev/s", transient: bool = False) -> Progress:
    console = console or Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                    RateColumn(unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=transient, refresh_per_second=4)


@contextmanager
def bar(label: str, total: int | None, console: Console | None = None, unit: str = "ev/s",
        transient: bool = True) -> Iterator[tuple[Progress, int]]:
    with progress(console, unit, transient) as p:
        yield p, p.add_task(label, total=total)
