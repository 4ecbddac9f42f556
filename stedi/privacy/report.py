"""The privacy report: who and what reaches the research tables, and the erasures since the last run.

Counts only, computed with the same rules that build the tables, so it is safe to log and to publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.report import RunSummary
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


def customer_stages(customers: pa.Table, with_readings: int, suspended: int = 0) -> list[Stage]:
    """Records -> customers -> ever consented -> latest record consents -> suspended -> with readings.

    `suspended`: customers counted as not consenting because their newest record is unclear
    (strict policy; see stedi.rules.suspension).
    """
    keys = normalise_email(customers["email"])
    consented = customers.filter(pc.is_valid(customers["shareWithResearchAsOfDate"]))
    latest = latest_customer_records(customers)
    return [
        ("records", customers.num_rows),
        ("customers", len(pc.unique(keys))),
        ("ever consented", len(pc.unique(normalise_email(consented["email"])))),
        (
            "latest record consents",
            int(pc.sum(pc.is_valid(latest["shareWithResearchAsOfDate"])).as_py() or 0),
        ),
        ("suspended (newest record unclear)", suspended),
        ("with readings (customer_curated)", with_readings),
    ]


def reading_stages(total: int, counts: Mapping[str, int], trusted: int, steps: bool) -> list[Stage]:
    """Readings from landing to trusted, from the counts of the rule that built the trusted table."""
    if not steps:
        return [
            ("total", total),
            ("of non-consenting owners", counts.get("of_non_consenting_owners", 0)),
            ("before consent", counts.get("before_consent", 0)),
            ("trusted", trusted),
        ]
    return [
        ("total", total),
        ("of unattributable devices", counts.get("of_unattributable_devices", 0)),
        ("not of curated devices", counts.get("not_of_curated_devices", 0)),
        ("before consent", counts.get("before_consent", 0)),
        ("trusted", trusted),
    ]


Funnels = tuple[list[Stage], list[Stage], list[Stage]]


def funnels(
    customers: pa.Table,
    readings: pa.Table,
    steps: pa.Table,
    policy: Policy,
    quarantined: pa.Table | None = None,
) -> Funnels:
    """Customer, accelerometer and step-trainer funnels of the landing tables under `policy`.

    `customers` with `_ingested_at`/`_source_file` and the customer `quarantined` lines, as the
    strict consent rule reads them (stedi.rules.suspension).
    """
    trusted_result = customer_trusted(customers, policy, quarantined)
    trusted = trusted_result.table
    accel = accelerometer_trusted(readings, trusted, policy)
    curated = customer_curated(trusted, accel.table, policy).table
    step = step_trainer_trusted(steps, customers, curated, policy)
    return (
        customer_stages(customers, curated.num_rows, trusted_result.counts.get("suspended_customers", 0)),
        reading_stages(readings.num_rows, accel.counts, accel.table.num_rows, steps=False),
        reading_stages(steps.num_rows, step.counts, step.table.num_rows, steps=True),
    )


def run_funnels(customers: pa.Table, summary: RunSummary) -> Funnels:
    """The same funnels from a run's reports: only the (small) customer records are read again.

    The trusted tables' commits carry their rule's counts over every landing row (totals, also
    after an append), so the reading funnels need no pass over the readings.
    """
    return (
        customer_stages(
            customers,
            summary.rows("customer_curated"),
            summary.count("customer_trusted", "suspended_customers"),
        ),
        reading_stages(
            summary.rows("accelerometer_landing"),
            _counts(summary, "accelerometer_trusted"),
            summary.rows("accelerometer_trusted"),
            steps=False,
        ),
        reading_stages(
            summary.rows("step_trainer_landing"),
            _counts(summary, "step_trainer_trusted"),
            summary.rows("step_trainer_trusted"),
            steps=True,
        ),
    )


def _counts(summary: RunSummary, table: str) -> dict[str, int]:
    step = summary.step(table)
    return dict(step.counts) if step else {}


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
