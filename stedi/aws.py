"""S3 storage options from a prefect-aws `AwsCredentials` block or from the standard AWS environment.

The options are handed to deltalake (`storage_options`) and to the landing reader (pyarrow's
S3FileSystem) through `RunConfig`. They hold secrets: nothing here logs a value, and `describe`
says where credentials came from without them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stedi.errors import InputError

# Write-protocol settings a user may set in the environment next to a credentials block.
_ENV_SETTINGS = ("AWS_CONDITIONAL_PUT", "AWS_S3_ALLOW_UNSAFE_RENAME")


def storage_options(block: str | None, env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """Storage options from the AwsCredentials block named `block`; None means "use the AWS_* environment".

    An empty name counts as none, so a deployment parameter left blank falls back to the environment.
    """
    if not (block or "").strip():
        return None
    env = os.environ if env is None else env
    options = {k: env[k] for k in _ENV_SETTINGS if env.get(k)}
    options.update(options_from_credentials(load_credentials(str(block).strip())))
    return options


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
    """Map an AwsCredentials block to deltalake/object_store option names.

    Credentials are resolved through the block's boto3 session, so explicit keys, a named profile
    and the instance or container role all work.
    """
    session = credentials.get_boto3_session()
    resolved = session.get_credentials()
    if resolved is None:
        raise InputError(
            "the AwsCredentials block resolves to no credentials: set its access key and secret, "
            "or a profile name that exists on the worker"
        )
    frozen = resolved.get_frozen_credentials()
    options = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        options["AWS_SESSION_TOKEN"] = frozen.token
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
    names = ", ".join(sorted(options))
    endpoint = options.get("AWS_ENDPOINT_URL", "AWS S3")
    return f"storage options from an AwsCredentials block ({names}; endpoint {endpoint})"
