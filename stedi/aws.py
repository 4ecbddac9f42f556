"""S3 storage options from a prefect-aws `AwsCredentials` block or from the standard AWS environment.

The options reach deltalake (`storage_options`) and the landing reader (pyarrow's S3FileSystem)
through `RunConfig` as `StorageCredentials`: they never show their values, and a block's
credentials are resolved through its boto3 session on each use, so credentials of a role or a
profile are refreshed before they expire instead of being frozen when the flow starts.
`describe` says where credentials came from without them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stedi.credentials import StorageCredentials
from stedi.errors import InputError

# Write-protocol settings a user may set in the environment next to a credentials block.
_ENV_SETTINGS = ("AWS_CONDITIONAL_PUT", "AWS_S3_ALLOW_UNSAFE_RENAME")


def storage_options(block: Any, env: Mapping[str, str] | None = None) -> StorageCredentials | None:
    """Storage options of an AwsCredentials block (or its name); None means "use the AWS_* environment".

    An empty name counts as none, so a deployment parameter left blank falls back to the environment.
    The block is loaded and resolved once now, so that a missing block or empty credentials fail
    at the start of a run.
    """
    if block is None or (isinstance(block, str) and not block.strip()):
        return None
    env = os.environ if env is None else env
    settings = {k: env[k] for k in _ENV_SETTINGS if env.get(k)}
    if isinstance(block, str):
        name, credentials = block.strip(), load_credentials(block.strip())
    else:
        name, credentials = getattr(block, "_block_document_name", None) or "given", block
    session = credentials.get_boto3_session()

    def resolve() -> dict[str, str]:
        return settings | options_from_session(credentials, session)

    resolve()
    return StorageCredentials(resolve, f"AwsCredentials block {name}")


def load_credentials(name: str) -> Any:
    """Load the prefect-aws AwsCredentials block `name`, or say how to create it."""
    from prefect_aws import AwsCredentials

    try:
        return AwsCredentials.load(name)
    except ValueError as exc:
        raise InputError(
            f"no AwsCredentials block named {name!r}: create it with `python -m deployments.setup` "
            "(reads the AWS_* environment) or in the Prefect UI under Blocks"
        ) from exc


def options_from_credentials(credentials: Any) -> dict[str, str]:
    """Map an AwsCredentials block to deltalake/object_store option names, resolved now."""
    return options_from_session(credentials, credentials.get_boto3_session())


def options_from_session(credentials: Any, session: Any) -> dict[str, str]:
    """Options from the block's boto3 `session`: its provider chain refreshes expiring credentials.

    Explicit keys, a named profile and the instance or container role all work.
    """
    resolved = session.get_credentials()
    if resolved is None:
        raise InputError(
            "the AwsCredentials block resolves to no credentials: set its access key and secret, "
            "or a profile name that exists on the worker"
        )
    current = resolved.get_frozen_credentials()  # refreshed first when close to expiry
    options = {"AWS_ACCESS_KEY_ID": current.access_key, "AWS_SECRET_ACCESS_KEY": current.secret_key}
    if current.token:
        options["AWS_SESSION_TOKEN"] = current.token
    region = credentials.region_name or session.region_name
    if region:
        options["AWS_REGION"] = str(region)
    endpoint = credentials.aws_client_parameters.endpoint_url
    if endpoint:
        options["AWS_ENDPOINT_URL"] = str(endpoint)
        if str(endpoint).startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def describe(options: Mapping[str, str] | None) -> str:
    """Where storage options came from, safe to log: option names and endpoint, never a secret."""
    if options is None:
        return "storage options from the AWS_* environment"
    source = options.source if isinstance(options, StorageCredentials) else "given storage options"
    names = ", ".join(sorted(options))
    endpoint = options.get("AWS_ENDPOINT_URL", "AWS S3")
    return f"storage options from {source} ({names}; endpoint {endpoint})"
