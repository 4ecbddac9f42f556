"""The privacy report: who and what reaches the research tables, and the erasures since the last run.

Counts only, computed with the same rules that build the tables, so it is safe to log and to publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules.customers import customer_curated, customer_trusted, latest_customer_records
from stedi.rules.keys import normalise_email
from stedi.rules.readings import accelerometer_trusted, step_trainer_trusted

Stage = tuple[str, int]


@dataclass(frozen=True)
class PrivacyReport:
    """Three funnels (customers, accelerometer readings, step readings) and the erasure counts."""

    policy: str
    customers: list[Stage]
    accelerometer: list[Stage]
    step_trainer: list[Stage]
    erasures: list[Stage]
    since: datetime | None = None

    def sections(self) -> list[tuple[str, list[Stage]]]:
        since = f" since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        return [
            ("customers", self.customers),
            ("accelerometer readings", self.accelerometer),
            ("step trainer readings", self.step_trainer),
            (f"erasures{since}", self.erasures),
        ]

    def to_markdown(self) -> str:
        lines = [f"# STEDI privacy report ({self.policy} policy)", ""]
        for title, stages in self.sections():
            lines += [f"## {title}", "", "| stage | count |", "|---|---:|"]
            lines += [f"| {name} | {value:,} |" for name, value in stages]
            lines.append("")
        return "\n".join(lines)

    def to_text(self) -> str:
        out = [f"privacy report ({self.policy} policy)"]
        for title, stages in self.sections():
            out.append(f"  {title}: " + " -> ".join(f"{name} {value:,}" for name, value in stages))
        return "\n".join(out)


def funnels(
    customers: pa.Table, readings: pa.Table, steps: pa.Table, policy: Policy
) -> tuple[list[Stage], list[Stage], list[Stage]]:
    """Customer, accelerometer and step-trainer funnels of the landing tables under `policy`."""
    keys = normalise_email(customers["email"])
    consented = customers.filter(pc.is_valid(customers["shareWithResearchAsOfDate"]))
    latest = latest_customer_records(customers)
    trusted = customer_trusted(customers, policy).table
    accel = accelerometer_trusted(readings, trusted, policy)
    curated = customer_curated(trusted, accel.table, policy).table
    step = step_trainer_trusted(steps, customers, curated, policy)
    customer_stages = [
        ("records", customers.num_rows),
        ("customers", len(pc.unique(keys))),
        ("ever consented", len(pc.unique(normalise_email(consented["email"])))),
        (
            "latest record consents",
            int(pc.sum(pc.is_valid(latest["shareWithResearchAsOfDate"])).as_py() or 0),
        ),
        ("with readings (customer_curated)", curated.num_rows),
    ]
    accel_stages = [
        ("total", readings.num_rows),
        ("of non-consenting owners", accel.counts["of_non_consenting_owners"]),
        ("before consent", accel.counts["before_consent"]),
        ("trusted", accel.table.num_rows),
    ]
    step_stages = [
        ("total", steps.num_rows),
        ("of unattributable devices", step.counts.get("of_unattributable_devices", 0)),
        ("not of curated devices", step.counts.get("not_of_curated_devices", 0)),
        ("before consent", step.counts.get("before_consent", 0)),
        ("trusted", step.table.num_rows),
    ]
    return customer_stages, accel_stages, step_stages


def erasure_stages(erasure_log: pa.Table, tombstones: int, stale: int, since: datetime | None) -> list[Stage]:
    """Subjects erased in total and after `since` (all when None), tombstones, stale tombstones."""
    recent = erasure_log
    if since is not None:
        cutoff = pa.scalar(since, erasure_log.schema.field("erased_at").type)
        recent = erasure_log.filter(pc.greater(erasure_log["erased_at"], cutoff))
    return [
        ("subjects erased, all time", len(pc.unique(erasure_log["subject"]))),
        ("subjects erased since last run", len(pc.unique(recent["subject"]))),
        ("tombstones", tombstones),
        ("tombstones under a retired salt", stale),
    ]
