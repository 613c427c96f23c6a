"""What a reprice found, per model: runs in scope, runs whose cost changes, cost before
and after (pure; rendered as the table ``runtally reprice`` prints)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class ModelLine:
    """One model's figures. ``runs`` excludes runs whose cost the event carried."""

    runs: int = 0
    changed: int = 0
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)

    def add(
        self, runs: int, before: Decimal | None, after: Decimal | None, is_changed: bool
    ) -> None:
        self.runs += runs
        self.changed += runs if is_changed else 0
        self.before += before or 0
        self.after += after or 0


@dataclass
class Report:
    """Per-model lines, and notes on what was left as it is and why (with run counts)."""

    version: str
    applied: bool
    lines: dict[str, ModelLine] = field(default_factory=dict)
    left: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def line(self, model: str) -> ModelLine:
        return self.lines.setdefault(model, ModelLine())

    def leave(self, reason: str, runs: int) -> None:
        self.left[reason] += runs

    @property
    def changed(self) -> int:
        return sum(line.changed for line in self.lines.values())

    def render(self) -> str:
        """The per-model table, a total, and one line per reason something was left."""
        rows = [("model", "runs", "changed", "cost before", "cost after")]
        total = ModelLine()
        for model in sorted(self.lines):
            line = self.lines[model]
            rows.append(_cells(model, line))
            total.add(line.runs, line.before, line.after, False)
            total.changed += line.changed
        rows.append(_cells("total", total))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        out = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        out.append(
            f"price table {self.version}: "
            + ("applied" if self.applied else "dry run, nothing changed")
        )
        out.extend(
            f"not repriced: {runs} runs ({reason}); left as they were"
            for reason, runs in sorted(self.left.items())
        )
        out.extend(f"note: {note}" for note in self.notes)
        return "\n".join(out)


def _cells(model: str, line: ModelLine) -> tuple[str, str, str, str, str]:
    return model, str(line.runs), str(line.changed), f"{line.before:.12f}", f"{line.after:.12f}"
