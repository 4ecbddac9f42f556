"""Where the lakehouse flow's tasks run: a local process pool (default), or a Dask cluster.

`local_runner()` is the flow's default task runner: Prefect's process pool with one worker per
core, so the units of days of a large build use every core.

`stedi_lakehouse_dask(..., dask_address=None)` runs the lakehouse flow with prefect-dask's
DaskTaskRunner: on the cluster at `dask_address` (e.g. `tcp://scheduler:8786`), or else at the
address in the Prefect variable `stedi_dask_address` if it is set, or else on a temporary
local cluster. Workers compute, validate and write the units of days of the derived tables; every Delta commit
is made by the flow process.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.stedi_lakehouse import stedi_lakehouse
from stedi.report import RunSummary

ADDRESS_VARIABLE = "stedi_dask_address"


def dask_address_from_variable() -> str | None:
    """The scheduler address in the Prefect variable `stedi_dask_address`, if set."""
    from prefect.variables import Variable

    value = Variable.get(ADDRESS_VARIABLE, default=None)
    return str(value) if value else None


def dask_runner(address: str | None = None, local_workers: int = 2) -> Any:
    """A DaskTaskRunner on `address`, else a local cluster of `local_workers` single-threaded processes."""
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from stedi.errors import InputError

        raise InputError("running on Dask needs prefect-dask: pip install 'stedi-lakehouse[dask]'") from exc
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": local_workers, "threads_per_worker": 1})


@flow(name="stedi-lakehouse-dask", log_prints=False)
def stedi_lakehouse_dask(
    landing: str,
    lakehouse: str,
    policy: str = "strict",
    full_refresh: bool = False,
    drop_vanished: bool = False,
    dask_address: str | None = None,
    dask_workers: int = 2,
) -> RunSummary:
    """The lakehouse flow with its tasks' parallel work on Dask (a subflow with a DaskTaskRunner)."""
    address = dask_address or dask_address_from_variable()
    on_cluster = stedi_lakehouse.with_options(task_runner=dask_runner(address, dask_workers))
    summary: RunSummary = on_cluster(
        landing=landing,
        lakehouse=lakehouse,
        policy=policy,
        full_refresh=full_refresh,
        drop_vanished=drop_vanished,
    )
    return summary
