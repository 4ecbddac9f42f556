"""The run summary: rows and versions per table, validation results and the privacy funnel.

Everything here is counts and table names; no value from the data, so it is safe to log and to
publish as a Prefect artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from stedi.validation import Outcome


@dataclass(frozen=True)
class StepReport:
    """What one task published."""

    table: str
    version: int | None
    rows: int
    counts: dict[str, int] = field(default_factory=dict)
    validation: list[Outcome] = field(default_factory=list)
    validation_s: float = 0.0  # time spent in Great Expectations for this table

    def checks(self) -> str:
        if not self.validation:
            return "unchanged, not re-validated"
        return f"{sum(o.success for o in self.validation)}/{len(self.validation)} passed"


@dataclass(frozen=True)
class RunSummary:
    policy: str
    steps: list[StepReport]
    rebuilt: bool = True

    @classmethod
    def of(cls, policy: str, steps: list[StepReport], rebuilt: bool = True) -> RunSummary:
        """Fold the per-feed quarantine reports into one quarantine line after the landing tables."""
        quarantine = [s for s in steps if s.table == "quarantine"]
        others = [s for s in steps if s.table != "quarantine"]
        if quarantine:
            counts = {k: v for q in quarantine for k, v in q.counts.items()}
            merged = StepReport(
                "quarantine",
                quarantine[-1].version,
                quarantine[-1].rows,
                counts,
                [o for q in quarantine for o in q.validation],
                sum(q.validation_s for q in quarantine),
            )
            landing = sum(s.table.endswith("_landing") for s in others)
            others.insert(landing, merged)
        return cls(policy, others, rebuilt)

    def ingest(self) -> dict[str, dict[str, int]]:
        """Per feed: files seen, new, changed, unchanged, missing; rows new, deduplicated, quarantined."""
        return {
            s.table.removesuffix("_landing"): dict(s.counts)
            for s in self.steps
            if s.table.endswith("_landing")
        }

    def step(self, table: str) -> StepReport | None:
        return next((s for s in self.steps if s.table == table), None)

    def rows(self, table: str) -> int:
        step = self.step(table)
        return step.rows if step else 0

    def count(self, table: str, name: str) -> int:
        step = self.step(table)
        return step.counts.get(name, 0) if step else 0

    def funnel(self) -> dict[str, dict[str, int]]:
        """Customers and readings from landing to the tables the research team may use."""
        customers = self.count("customer_trusted", "customers") or self.count(
            "customer_trusted", "customer_records"
        )
        return {
            "customers": {
                "records": self.count("customer_trusted", "customer_records"),
                "customers": customers,
                "suspended": self.count("customer_trusted", "suspended_customers"),
                "consenting": self.rows("customer_trusted"),
                "with_readings": self.rows("customer_curated"),
            },
            "accelerometer_readings": {
                "landing": self.rows("accelerometer_landing"),
                "of_non_consenting_owners": self.count("accelerometer_trusted", "of_non_consenting_owners"),
                "before_consent": self.count("accelerometer_trusted", "before_consent"),
                "trusted": self.rows("accelerometer_trusted"),
            },
            "step_trainer_readings": {
                "landing": self.rows("step_trainer_landing"),
                "of_unattributable_devices": self.count("step_trainer_trusted", "of_unattributable_devices"),
                "not_of_curated_devices": self.count("step_trainer_trusted", "not_of_curated_devices"),
                "before_consent": self.count("step_trainer_trusted", "before_consent"),
                "trusted": self.rows("step_trainer_trusted"),
            },
            "machine_learning_curated": {"rows": self.rows("machine_learning_curated")},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "rebuilt": self.rebuilt,
            "steps": [asdict(s) for s in self.steps],
            "validation_s": round(sum(s.validation_s for s in self.steps), 3),
            "ingest": self.ingest(),
            "funnel": self.funnel(),
        }

    def failed_expectations(self) -> list[Outcome]:
        return [o for s in self.steps for o in s.validation if not o.success]

    def to_markdown(self) -> str:
        lines = [
            f"# STEDI lakehouse run ({self.policy} policy)",
            "",
            "| table | Delta version | rows | checks |",
        ]
        lines.append("|---|---:|---:|---|")
        for s in self.steps:
            lines.append(f"| {s.table} | {s.version} | {s.rows:,} | {s.checks()} |")
        lines += [
            "",
            "## Ingest",
            "",
            "| feed | files seen/new/changed/unchanged/missing | rows new | duplicates | quarantined |",
        ]
        lines.append("|---|---|---:|---:|---|")
        for feed, c in self.ingest().items():
            files = " / ".join(
                str(c.get(f"files_{k}", 0)) for k in ("seen", "new", "changed", "unchanged", "missing")
            )
            reasons = ", ".join(
                f"{k.removeprefix('quarantined_')} {v}" for k, v in c.items() if k.startswith("quarantined_")
            )
            quarantined = f"{c.get('rows_quarantined', 0)}" + (f" ({reasons})" if reasons else "")
            new, dupes = c.get("rows_new", 0), c.get("rows_deduplicated", 0)
            lines.append(f"| {feed} | {files} | {new:,} | {dupes:,} | {quarantined} |")
        state = "rebuilt" if self.rebuilt else "unchanged (nothing new in landing)"
        lines += ["", f"Trusted and curated tables: {state}.", "", "## Privacy funnel", ""]
        for stage, counts in self.funnel().items():
            lines.append(
                f"- **{stage}**: " + " → ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items())
            )
        failed = self.failed_expectations()
        if failed:
            lines += ["", "## Expectations not met", ""]
            lines += [f"- {o.table} ({o.severity}): {o.describe()}" for o in failed]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        width = max(len(s.table) for s in self.steps) if self.steps else 5
        out = [f"{'table':<{width}}  version  {'rows':>12}  checks"]
        for s in self.steps:
            out.append(f"{s.table:<{width}}  {s.version!s:>7}  {s.rows:>12,}  {s.checks()}")
        out.append("")
        out.append("ingest:")
        for feed, c in self.ingest().items():
            files = ", ".join(f"{c.get(f'files_{k}', 0)} {k}" for k in ("seen", "new", "changed", "missing"))
            rows = ", ".join(f"{c.get(f'rows_{k}', 0):,} {k}" for k in ("new", "deduplicated", "quarantined"))
            out.append(f"  {feed}: files {files}; rows {rows}")
        out.append(f"trusted and curated tables: {'rebuilt' if self.rebuilt else 'unchanged'}")
        out.append("")
        out.append("privacy funnel:")
        for stage, counts in self.funnel().items():
            out.append(
                f"  {stage}: " + " -> ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items())
            )
        for o in self.failed_expectations():
            out.append(f"warning: {o.table}: {o.describe()}")
        return "\n".join(out)
