"""Where Great Expectations keeps the lakehouse's suites, validation results and Data Docs.

Next to the tables, local or on S3 alike:
- `<lakehouse>/_validation/expectations/`: the suites, one JSON file each;
- `<lakehouse>/_validation/validations/<suite>/<run name>/<run time>/<table>.json`: every run's results
  (counts and rule descriptions only, see `stedi.data_docs`);
- `<lakehouse>/data_docs/`: the rendered site, `index.html` listing every run, newest first.
Local lakehouses use GX's TupleFilesystemStoreBackend; `s3://` ones `stedi.gx_backend.S3StoreBackend`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stedi.config import is_local
from stedi.errors import InputError

STORES_FOLDER = "_validation"
SITE_FOLDER = "data_docs"
SITE_NAME = "stedi"
EXPECTATIONS_STORE = "expectations_store"
VALIDATIONS_STORE = "validation_results_store"


@dataclass(frozen=True)
class Places:
    """Where a lakehouse's stores and site live, and the browser address of the site's root."""

    expectations: dict[str, Any]
    validations: dict[str, Any]
    site: dict[str, Any]
    site_url: str


def site_url(lakehouse: str, storage_options: Mapping[str, str]) -> str:
    """A browser address of the site root: file:// for local lakes, the bucket's address for S3."""
    if is_local(lakehouse):
        return Path(os.path.abspath(lakehouse.removeprefix("file://")), SITE_FOLDER).as_uri()
    if lakehouse.startswith("s3://"):
        bucket, _, prefix = lakehouse.removeprefix("s3://").rstrip("/").partition("/")
        key = quote(f"{prefix}/{SITE_FOLDER}" if prefix else SITE_FOLDER)
        endpoint = storage_options.get("AWS_ENDPOINT_URL", "")
        if endpoint:
            return f"{endpoint.rstrip('/')}/{bucket}/{key}"
        return f"https://{bucket}.s3.amazonaws.com/{key}"
    return f"{lakehouse.rstrip('/')}/{SITE_FOLDER}"


def places(lakehouse: str, storage_options: Mapping[str, str], client: str = "") -> Places:
    """Store backend configurations for `lakehouse`; `client` names a registered boto3 S3 client
    (stedi.gx_backend.register) and is needed for s3:// lakehouses only."""
    url = site_url(lakehouse, storage_options)
    if is_local(lakehouse):
        root = os.path.abspath(lakehouse.removeprefix("file://"))

        def backend(folder: str) -> dict[str, Any]:
            return {"class_name": "TupleFilesystemStoreBackend", "base_directory": f"{root}/{folder}"}

    elif lakehouse.startswith("s3://"):
        if not client:
            raise ValueError(f"an s3:// lakehouse ({lakehouse}) needs a registered S3 client")
        bucket, _, prefix = lakehouse.removeprefix("s3://").strip("/").partition("/")

        def backend(folder: str) -> dict[str, Any]:
            return {
                "module_name": "stedi.gx_backend",
                "class_name": "S3StoreBackend",
                "client": client,
                "bucket": bucket,
                "prefix": f"{prefix}/{folder}" if prefix else folder,
                "url_base": url if folder == SITE_FOLDER else "",
            }

    else:
        raise InputError(f"Data Docs support local and s3:// lakehouses, not {lakehouse}")
    return Places(
        expectations=backend(f"{STORES_FOLDER}/expectations"),
        validations=backend(f"{STORES_FOLDER}/validations"),
        site=backend(SITE_FOLDER),
        site_url=url,
    )


def project_config(where: Places) -> dict[str, Any]:
    """A GX project configuration with persistent stores and one Data Docs site that works offline."""
    view = {"module_name": "stedi.gx_site", "class_name": "OfflinePageView"}
    in_memory = {"class_name": "InMemoryStoreBackend"}  # nothing of ours uses these two
    return {
        "config_version": 4,
        "analytics_enabled": False,
        "expectations_store_name": EXPECTATIONS_STORE,
        "validation_results_store_name": VALIDATIONS_STORE,
        "checkpoint_store_name": "checkpoint_store",
        "stores": {
            EXPECTATIONS_STORE: {"class_name": "ExpectationsStore", "store_backend": where.expectations},
            VALIDATIONS_STORE: {"class_name": "ValidationResultsStore", "store_backend": where.validations},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": in_memory},
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": in_memory,
            },
        },
        "data_docs_sites": {
            SITE_NAME: {
                "module_name": "stedi.gx_site",
                "class_name": "IncrementalSiteBuilder",
                "store_backend": where.site,
                "show_how_to_buttons": False,
                "site_index_builder": {
                    "module_name": "stedi.gx_index",
                    "class_name": "SummarizedIndexBuilder",
                    "view": {"module_name": "stedi.gx_site", "class_name": "OfflineIndexPageView"},
                },
                "site_section_builders": {
                    "expectations": {"view": view},
                    "validations": {"view": view},
                    "profiling": "None",
                },
            }
        },
    }


def open_context(lakehouse: str, storage_options: Mapping[str, str]) -> Any:
    """An ephemeral GX context whose stores and site persist under `lakehouse`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    client = ""
    if lakehouse.startswith("s3://"):
        from stedi.gx_backend import register
        from stedi.lease import s3_client

        client = register(s3_client(storage_options))
    where = places(lakehouse, storage_options, client)
    context = gx.get_context(mode="ephemeral", project_config=project_config(where))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context
