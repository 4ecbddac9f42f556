"""What a person sees in the Prefect UI besides the run report: every expectation's result and Data Docs.

Both artifacts hold counts and rule descriptions only. The Data Docs are rebuilt from those counts
and the suites in `expectations/`, never from Great Expectations' raw results, which list unexpected
values (emails, serials) that must not leave the pipeline.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.fs as pafs
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.runtime import flow_run

from stedi import validation_pool
from stedi.config import RunConfig, is_local
from stedi.data_docs import render_site
from stedi.report import RunSummary
from stedi.storage import Landing
from tasks.options import TASK_OPTIONS

DATA_DOCS_FOLDER = "data_docs"


def expectation_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """One row per expectation evaluated in the run, in table order."""
    return [
        {
            "table": o.table,
            "expectation": o.expectation,
            "column": o.column,
            "result": "passed" if o.success else "FAILED",
            "unexpected rows": o.unexpected or 0,
            "severity": o.severity,
            "rule": o.why,
        }
        for step in summary.steps
        for o in step.validation
    ]


@task(name="validation_artifacts", **TASK_OPTIONS)
def publish_validation_artifacts(config: RunConfig, summary: RunSummary) -> str | None:
    """Publish the expectations table artifact and a link to Data Docs built under the lakehouse."""
    logger = get_run_logger()
    rows = expectation_rows(summary)
    failed = sum(r["result"] != "passed" for r in rows)
    create_table_artifact(
        rows,
        key="stedi-expectations",
        description=f"Great Expectations results: {len(rows)} checks, {failed} not met (counts only)",
    )
    run = flow_run.get_name() or "local-run"
    try:
        link = build_data_docs(config, summary, run)
    except Exception as exc:  # Data Docs are a view: a failure to build them must not fail a published run.
        logger.warning("Data Docs not built: %s: %s", type(exc).__name__, exc)
        return None
    create_link_artifact(
        link,
        link_text="Great Expectations Data Docs",
        key="stedi-data-docs",
        description=f"Data Docs of run {run} under {config.lakehouse}/{DATA_DOCS_FOLDER}",
    )
    logger.info("Data Docs: %s", link)
    return link


def build_data_docs(config: RunConfig, summary: RunSummary, run_name: str) -> str:
    """Render the run's validation results as a Data Docs site in `<lakehouse>/data_docs`; return its URL."""
    target = Landing(config.lakehouse, config.storage_options)  # the lakehouse's filesystem and base path
    with tempfile.TemporaryDirectory(prefix="stedi-data-docs-") as tmp:
        # Rendering imports GX: in the validation process when it runs, which has it imported.
        future = validation_pool.submit(render_site, summary, run_name, Path(tmp))
        index = future.result() if future is not None else render_site(summary, run_name, Path(tmp))
        _upload(Path(tmp), target.fs, f"{target.base}/{DATA_DOCS_FOLDER}")
    return _url(config, f"{DATA_DOCS_FOLDER}/{index}")


def _files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


def _upload(site: Path, fs: pafs.FileSystem, base: str) -> None:
    """Copy the rendered site; static assets (about 4 MB) only when they are not there yet."""
    for path in _files(site):
        relative = path.relative_to(site).as_posix()
        dest = f"{base}/{relative}"
        if relative.startswith("static/") and fs.get_file_info(dest).type == pafs.FileType.File:
            continue
        fs.create_dir(dest.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(dest) as out:
            out.write(path.read_bytes())


def _url(config: RunConfig, relative: str) -> str:
    """A browser link: file:// for local lakes, the bucket's HTTPS address for S3."""
    root = config.lakehouse
    if is_local(root):
        return Path(root.removeprefix("file://"), relative).as_uri()
    if root.startswith("s3://"):
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        key = quote(f"{prefix}/{relative}" if prefix else relative)
        endpoint = config.storage_options.get("AWS_ENDPOINT_URL", "")
        if endpoint:
            return f"{endpoint.rstrip('/')}/{bucket}/{key}"
        return f"https://{bucket}.s3.amazonaws.com/{key}"
    return f"{root}/{relative}"
