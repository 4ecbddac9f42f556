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


@dataclass(frozen=True)
class RunSummary:
    policy: str
    steps: list[StepReport]

    @classmethod
    def of(cls, policy: str, steps: list[StepReport]) -> RunSummary:
        """Fold the per-feed quarantine reports into one quarantine line after the landing tables."""
        quarantine = [s for s in steps if s.table == "quarantine"]
        others = [s for s in steps if s.table != "quarantine"]
        if quarantine:
            counts = {k: v for q in quarantine for k, v in q.counts.items()}
            merged = StepReport(
                "quarantine",
                quarantine[-1].version,
                sum(counts.values()),
                counts,
                [o for q in quarantine for o in q.validation],
            )
            landing = sum(s.table.endswith("_landing") for s in others)
            others.insert(landing, merged)
        return cls(policy, others)

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
        return {"policy": self.policy, "steps": [asdict(s) for s in self.steps], "funnel": self.funnel()}

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
            passed = sum(o.success for o in s.validation)
            lines.append(f"| {s.table} | {s.version} | {s.rows:,} | {passed}/{len(s.validation)} passed |")
        lines += ["", "## Privacy funnel", ""]
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
            passed = sum(o.success for o in s.validation)
            out.append(
                f"{s.table:<{width}}  {s.version!s:>7}  {s.rows:>12,}  {passed}/{len(s.validation)} passed"
            )
        out.append("")
        out.append("privacy funnel:")
        for stage, counts in self.funnel().items():
            out.append(
                f"  {stage}: " + " -> ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items())
            )
        for o in self.failed_expectations():
            out.append(f"warning: {o.table}: {o.describe()}")
        return "\n".join(out)
