"""Learning from the user's decisions: per-tag accept/reject counts -> raised thresholds.

Every accepted or rejected suggestion (in the scene tab, or implicitly: removing a tag Stash Sense
added, deleting or marking one of its markers StashSense_Incorrect) is counted per tag in the
store. With the opt-in setting `learnFromRejections`, a tag the user keeps rejecting is asked for
less: it needs a higher confidence before it is even suggested.

The rule is deliberately simple so the tab and the "Feedback report" task can explain it:
- nothing changes until a tag has at least MIN_DECISIONS decisions (one rejection proves little);
- when the share of rejections reaches HIGH_RATE, the tag's threshold becomes that share
  (rejected 80 % of the time -> confidence 0.80 needed), capped at CAP so it can still appear;
- accepting it again lowers the share and so the threshold; below HIGH_RATE it is not raised.
Pure functions only: the table-driven tests in tests/test_feedback.py pin the rule down.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIN_DECISIONS = 4
HIGH_RATE = 0.6
CAP = 0.95

Counts = Mapping[tuple[str, str], tuple[int, int]]   # (kind, key) -> (accepted, rejected)


def feedback_key(kind: str, key: str) -> str:
    """The one spelling used by make_plan, the status payload and the report: "tag:pool"."""
    return f"{kind}:{key}"


def raised_threshold(accepted: int, rejected: int, *, min_decisions: int = MIN_DECISIONS,
                     high_rate: float = HIGH_RATE, cap: float = CAP) -> float | None:
    """The confidence a finding needs after these decisions, or None when not raised."""
    if accepted < 0 or rejected < 0:
        raise ValueError(f"feedback counts must not be negative (accepted={accepted}, "
                         f"rejected={rejected})")
    total = accepted + rejected
    if total < min_decisions or total == 0:
        return None
    rate = rejected / total
    if rate < high_rate:
        return None
    return round(min(cap, rate), 2)


def raised_thresholds(counts: Counts, **rule) -> dict[str, float]:
    """{"kind:key": threshold} for every key whose threshold is raised."""
    out: dict[str, float] = {}
    for (kind, key), (accepted, rejected) in counts.items():
        value = raised_threshold(accepted, rejected, **rule)
        if value is not None:
            out[feedback_key(kind, key)] = value
    return out


@dataclass(frozen=True)
class ReportRow:
    kind: str
    key: str
    name: str
    accepted: int
    rejected: int
    threshold_raised_to: float | None

    @property
    def rejection_rate(self) -> float | None:
        total = self.accepted + self.rejected
        return round(self.rejected / total, 3) if total else None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "key": self.key, "name": self.name, "accepted": self.accepted,
                "rejected": self.rejected, "rejection_rate": self.rejection_rate,
                "threshold_raised_to": self.threshold_raised_to}


def report(counts: Counts, names: Mapping[tuple[str, str], str], learn: bool) -> list[ReportRow]:
    """One row per counted key, most rejected first. Thresholds only when `learn` is on."""
    raised = raised_thresholds(counts) if learn else {}
    rows = [ReportRow(kind, key, names.get((kind, key), key), a, r,
                      raised.get(feedback_key(kind, key)))
            for (kind, key), (a, r) in counts.items()]
    rows.sort(key=lambda row: (-row.rejected, row.accepted, row.kind, row.key))
    return rows


def rule_text() -> str:
    return (f"a tag needs at least {MIN_DECISIONS} decisions; when {int(HIGH_RATE * 100)} % or more "
            f"of them are rejections its threshold becomes its rejection rate (at most {CAP})")


def describe(rows: Iterable[ReportRow]) -> list[str]:
    """Human-readable lines for the task log."""
    lines = []
    for row in rows:
        raised = (f", threshold raised to {row.threshold_raised_to:.2f}"
                  if row.threshold_raised_to is not None else "")
        lines.append(f"{row.kind} {row.name!r}: {row.accepted} accepted, {row.rejected} "
                     f"rejected{raised}")
    return lines
