"""The erasure flow: remove subjects from every zone of the lakehouse and keep them out."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from stedi.aws import storage_options
from stedi.config import RunConfig
from stedi.errors import InputError
from stedi.lock import lakehouse_lock
from stedi.registry import REGISTRY
from stedi.storage import Lake
from tasks.erasure import (
    ERASABLE_TABLES,
    ErasureSummary,
    erase_from_raw_landing,
    erase_from_table,
    plan_erasure,
    record_erasure,
    take_erasure_requests,
)

MASKED = "**********"


@flow(name="erase-subjects", flow_run_name="erase-subjects", log_prints=False)
def erase_subjects(
    lakehouse: str,
    emails: list[SecretStr] | None = None,
    drain_requests: bool = True,
    include_raw: bool = False,
    landing: str | None = None,
    sweep: bool = False,
    aws_credentials: AwsCredentials | str | None = None,
) -> ErasureSummary:
    """Erase the given subjects and every pending erasure request; re-apply earlier tombstones.

    Holds the lakehouse lease throughout, like every writer.

    Pass emails as SecretStr: Prefect then stores the parameter masked. A deployment run receives
    masked values, so deployments drain the `erasure_requests` table instead (`stedi erase --queue`).
    Without a new request the tables are left alone (their history too) unless `sweep` asks to apply
    every tombstone again. `aws_credentials` names a prefect-aws AwsCredentials block for s3://
    lakehouses; without it the AWS_* environment is used.
    """
    given = list(emails or [])
    if any(e.get_secret_value() == MASKED for e in given):
        raise InputError(
            "emails arrived masked (Prefect stores SecretStr parameters masked): queue the requests with "
            "`stedi erase --queue` and run this flow with drain_requests=True"
        )
    if include_raw and not landing:
        raise InputError("include_raw needs the landing root: pass landing (e.g. --landing data/landing)")
    config = RunConfig.build(
        landing or lakehouse, lakehouse, storage_options=storage_options(aws_credentials)
    )
    requested_at = datetime.now(UTC)
    # Erasure vacuums with retention 0: no other writer may have uncommitted files meanwhile.
    with lakehouse_lock(config.lakehouse, config.storage_options, purpose="stedi erase"):
        pending = take_erasure_requests(config) if drain_requests else []
        keys = plan_erasure(config, given + [e for e, _ in pending])
        # Without a new request there is nothing new to remove: keep the tables' history (time travel).
        scope = ERASABLE_TABLES if keys.requested_subjects or (sweep and keys.emails) else ()
        tables = [erase_from_table(config, table, keys) for table in scope]
        lake = Lake.of(config)
        for feed in REGISTRY.feeds:  # a crashed run's staged rows: nothing else may keep them
            lake.clear_staged(feed.landing_table)
        raw = erase_from_raw_landing(config, keys) if include_raw else 0
        summary = record_erasure(config, keys, tables, raw, requested_at, pending)
    create_markdown_artifact(
        summary.to_markdown(), key="stedi-erasure", description="STEDI erasure (counts only)"
    )
    return summary
