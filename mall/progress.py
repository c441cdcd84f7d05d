"""A document's or request's way through its states, as the customer pages show it
(templates/_progress.html): the refunds' 待审核 → 已同意 → 已退款, the invoices' 待开票 →
已开票 → 已寄出, each with its branches."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.functional import Promise


@dataclass(frozen=True)
class ProgressStep:
    key: str
    label: Promise
    at: datetime | date | None
    state: str  # "done", "current" (where the thing is now) or "todo"


def progress_steps(
    path: Sequence[str], *, current: str, labels: Mapping[str, Promise], dates: Mapping[str, datetime | date | None]
) -> list[ProgressStep]:
    """The steps of `path`, the one at `current` being where things stand: the steps
    before it done, with their dates, the ones after it still to come."""
    reached = path.index(current)
    return [
        ProgressStep(
            key,
            labels[key],
            dates.get(key) if i <= reached else None,
            "done" if i < reached else "current" if i == reached else "todo",
        )
        for i, key in enumerate(path)
    ]
