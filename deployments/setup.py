"""Prepare a Prefect server for the STEDI deployments: work pool, writer limit, blocks and (with --deploy)
deployments.

    .venv/bin/python -m deployments.setup [--aws-block NAME] [--remote] [--deploy]

--remote deploys deployments/remote.yaml (workers on other hosts clone the repository at a commit)
instead of prefect.yaml (the worker runs the flows from this checkout).

Idempotent: run it again after changing prefect.yaml or credentials. Talks to the server named by
PREFECT_API_URL (or the active Prefect profile). Never prints a secret.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PREFECT_YAML = REPO / "prefect.yaml"
REMOTE_YAML = REPO / "deployments" / "remote.yaml"
SALT_BLOCK = "stedi-subject-salt"
DEFAULT_AWS_BLOCK = "stedi-aws"


def work_pools(prefect_yaml: Path = PREFECT_YAML) -> list[str]:
    """The work pool names the deployments in prefect.yaml use."""
    config = yaml.safe_load(prefect_yaml.read_text())
    return sorted({d["work_pool"]["name"] for d in config["deployments"]})


def ensure_process_pool(name: str) -> str:
    """Create the `process` work pool `name` unless it exists; return what was done."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
            return f"work pool {name} exists (type {pool.type})"
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
            return f"work pool {name} created (type process)"


def ensure_writer_limit() -> str:
    """Create (or reset to 1) the global concurrency limit every lakehouse writer takes a slot of.

    The per-deployment limits in prefect.yaml only keep two runs of one deployment apart; this one
    keeps the build, backfill, erasure and maintenance deployments apart, on any worker.
    """
    from prefect.client.orchestration import get_client

    from stedi.lock import WRITER_LIMIT

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(WRITER_LIMIT, limit=1)
    return f"global concurrency limit {WRITER_LIMIT} ready (limit 1: one lakehouse writer at a time)"


def register_aws_credentials(name: str, env: Mapping[str, str]) -> str | None:
    """Save the AWS_* environment as the AwsCredentials block `name`; None when there is nothing to save."""
    from prefect_aws import AwsClientParameters, AwsCredentials
    from pydantic import SecretStr

    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    profile = env.get("AWS_PROFILE")
    if not ((key and secret) or profile):
        return None
    block = AwsCredentials(
        aws_access_key_id=key or None,
        aws_secret_access_key=SecretStr(secret) if secret else None,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        profile_name=None if key else profile,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        aws_client_parameters=AwsClientParameters(endpoint_url=env.get("AWS_ENDPOINT_URL") or None),
    )
    block.save(name, overwrite=True)
    return name


def register_subject_salt(env: Mapping[str, str]) -> str:
    """Create the Secret block holding the subject-id salt; an existing salt is never replaced.

    Replacing it would give every subject a new subject_id, so rotating is a deliberate manual step.
    """
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    try:
        Secret.load(SALT_BLOCK)
        return f"Secret block {SALT_BLOCK} exists: kept (a new salt would change every subject_id)"
    except ValueError:
        pass
    value = env.get("STEDI_SUBJECT_SALT") or secrets.token_hex(32)
    Secret(value=SecretStr(value)).save(SALT_BLOCK)
    source = "STEDI_SUBJECT_SALT" if env.get("STEDI_SUBJECT_SALT") else "a new random value"
    return f"Secret block {SALT_BLOCK} created from {source}"


def deploy_env(env: Mapping[str, str], aws_block: str | None) -> dict[str, str]:
    """The environment `prefect deploy` reads prefect.yaml's `{{ $VAR }}` values from, with defaults."""
    out = dict(env)
    out.setdefault("STEDI_PROJECT_DIR", str(REPO))
    out.setdefault("STEDI_LANDING", str(REPO / "data" / "landing"))
    out.setdefault("STEDI_LAKEHOUSE", str(REPO / "lakehouse"))
    out.setdefault("STEDI_AWS_CREDENTIALS_BLOCK", aws_block or "")
    # deployments/remote.yaml: the remote workers clone this checkout's origin at its current commit.
    out.setdefault("STEDI_GIT_REPOSITORY", _git("remote", "get-url", "origin"))
    out.setdefault("STEDI_GIT_COMMIT", _git("rev-parse", "HEAD"))
    return out


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def deploy(env: Mapping[str, str], prefect_file: Path = PREFECT_YAML) -> int:
    command = [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--all"]
    command += ["--prefect-file", str(prefect_file)]
    return subprocess.run(command, cwd=REPO, env=dict(env), check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.setup", description="Prepare a Prefect server for the STEDI deployments."
    )
    parser.add_argument(
        "--aws-block",
        default=DEFAULT_AWS_BLOCK,
        help="name of the AwsCredentials block saved from the AWS_* environment (default: %(default)s)",
    )
    parser.add_argument("--deploy", action="store_true", help="then run `prefect --no-prompt deploy --all`")
    parser.add_argument(
        "--remote", action="store_true", help="use deployments/remote.yaml (git clone on remote workers)"
    )
    args = parser.parse_args(argv)
    env = os.environ
    prefect_file = REMOTE_YAML if args.remote else PREFECT_YAML
    for pool in work_pools(prefect_file):
        print(ensure_process_pool(pool))
    print(ensure_writer_limit())
    aws_block = register_aws_credentials(args.aws_block, env)
    if aws_block:
        print(f"AwsCredentials block {aws_block} saved from the AWS_* environment")
    else:
        print("no AWS credentials in the environment: no AwsCredentials block saved (local lakes need none)")
    print(register_subject_salt(env))
    if not args.deploy:
        return 0
    return deploy(deploy_env(env, aws_block), prefect_file)


if __name__ == "__main__":
    sys.exit(main())
