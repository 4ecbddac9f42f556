"""Where Great Expectations keeps the lakehouse's suites, validation results and Data Docs.

Next to the tables, local or on S3 alike:
- `<lakehouse>/_validation/expectations/`: the suites, one JSON file each;
- `<lakehouse>/_validation/validations/<suite>/<run name>/<run time>/<table>.json`: every run's results
  (counts and rule descriptions only, see `stedi.data_docs`);
- `<lakehouse>/data_docs/`: the rendered site, `index.html` listing every run, newest first.
Local lakehouses use GX's TupleFilesystemStoreBackend; `s3://` ones `stedi.gx_backend`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stedi.config import is_local

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


def places(lakehouse: str, storage_options: Mapping[str, str], filesystem: str = "") -> Places:
    """Store backend configurations for `lakehouse`; `filesystem` names a registered pyarrow
    filesystem (stedi.gx_backend.register) and is needed for remote lakehouses only."""
    url = site_url(lakehouse, storage_options)
    if is_local(lakehouse):
        root = os.path.abspath(lakehouse.removeprefix("file://"))

        def backend(folder: str, url_base: str = "") -> dict[str, Any]:
            return {"class_name": "TupleFilesystemStoreBackend", "base_directory": f"{root}/{folder}"}

    else:
        if not filesystem:
            raise ValueError(f"a remote lakehouse ({lakehouse}) needs a registered filesystem")
        base = lakehouse.split("://", 1)[1].rstrip("/")

        def backend(folder: str, url_base: str = "") -> dict[str, Any]:
            return {
                "module_name": "stedi.gx_backend",
                "class_name": "ArrowStoreBackend",
                "filesystem": filesystem,
                "base_directory": f"{base}/{folder}",
                "url_base": url_base,
            }

    return Places(
        expectations=backend(f"{STORES_FOLDER}/expectations"),
        validations=backend(f"{STORES_FOLDER}/validations"),
        site=backend(SITE_FOLDER, url),
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
                    "class_name": "DefaultSiteIndexBuilder",
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

    filesystem = ""
    if not is_local(lakehouse):
        from stedi.gx_backend import register
        from stedi.storage import Landing

        filesystem = register(Landing(lakehouse, storage_options).fs)
    context = gx.get_context(
        mode="ephemeral", project_config=project_config(places(lakehouse, storage_options, filesystem))
    )
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context
