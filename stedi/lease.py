"""The lakehouse lease: at most one writer per lakehouse, on local disk and on S3 alike.

Local lakehouses hold an advisory `flock` on `<lakehouse>/_stedi.lock` (the kernel releases it
when the holder dies, so a killed writer never leaves a stale lock) and write a lease record
`<lakehouse>/_stedi.lease` beside it, so that a waiting writer can say who holds the lakehouse.

On S3 the lease is the object `<lakehouse>/_stedi.lease`, created with a conditional put
(`If-None-Match: *`), renewed by a heartbeat thread while held (`If-Match` on its ETag) and deleted
on release. A holder that dies stops renewing: once the object is older than its time to live,
measured on the server's clock (its `Last-Modified` against the response's `Date`), a waiting
writer takes it over with a conditional put on its ETag, so two waiters cannot both take it.

Records name a host, a process id and a run or command: nothing personal.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

from stedi.config import is_local
from stedi.errors import InputError, TransientError
from stedi.errors import LakehouseBusyError as LakehouseBusyError  # the CLI exits 3 on this class

LOCK_FILE = "_stedi.lock"
LEASE_FILE = "_stedi.lease"
DEFAULT_TTL_SECONDS = 60.0

_log = logging.getLogger("stedi.lease")


class LeaseLostError(TransientError):
    """The lease expired while held (heartbeats failed) and another writer may have taken it over."""


@dataclass(frozen=True)
class LeaseRecord:
    """Who holds a lakehouse, since when and until when (None: until its process exits)."""

    owner: str
    host: str
    pid: int
    started: str
    expires: str | None
    ttl_seconds: float | None
    token: str

    @classmethod
    def new(cls, owner: str, ttl_seconds: float | None) -> LeaseRecord:
        now = datetime.now(UTC)
        expires = None if ttl_seconds is None else _iso(now + timedelta(seconds=ttl_seconds))
        return cls(
            owner, socket.gethostname(), os.getpid(), _iso(now), expires, ttl_seconds, uuid.uuid4().hex
        )

    def renewed(self) -> LeaseRecord:
        if self.ttl_seconds is None:
            return self
        expires = _iso(datetime.now(UTC) + timedelta(seconds=self.ttl_seconds))
        return LeaseRecord(**{**asdict(self), "expires": expires})

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()

    @classmethod
    def parse(cls, data: bytes) -> LeaseRecord | None:
        try:
            fields = json.loads(data)
            return cls(**{k: fields.get(k) for k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        """One line for logs and errors: owner, host, pid and start time."""
        return f"{self.owner} (host {self.host}, pid {self.pid}) since {self.started}"


UNKNOWN_HOLDER = LeaseRecord("another writer", "unknown", 0, "an unknown time", None, None, "")


class Backend(Protocol):
    def try_acquire(self, record: LeaseRecord) -> LeaseRecord | None:
        """Take the lease (None), or return the current holder's record."""

    def holder(self) -> LeaseRecord | None:
        """The current holder's record, if any (read only)."""

    def release(self) -> None: ...

    @property
    def lost(self) -> bool: ...


@contextmanager
def lakehouse_lease(
    lakehouse: str,
    options: Mapping[str, str] | None = None,
    owner: str = "a stedi writer",
    wait_seconds: float = 600.0,
    poll: float = 0.5,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> Iterator[LeaseRecord]:
    """Hold the lakehouse lease for the block; wait up to `wait_seconds` for the current holder.

    Raises LakehouseBusyError when the lease stays taken, LeaseLostError at the end of the block
    when an S3 lease could not be renewed in time.
    """
    log = log or _log
    backend = backend_for(lakehouse, options, ttl_seconds)
    record = LeaseRecord.new(owner, None if is_local(lakehouse) else ttl_seconds)
    deadline = time.monotonic() + max(0.0, wait_seconds)
    reported: str | None = None
    while (holder := backend.try_acquire(record)) is not None:
        if time.monotonic() >= deadline:
            raise LakehouseBusyError(
                f"lakehouse {lakehouse} is busy: {holder.describe()} holds its lease "
                f"(waited {wait_seconds:.0f} s); try again when it has finished, or wait longer with "
                "--wait SECONDS"
            )
        if holder.token != reported:
            log.warning(
                "lakehouse %s is held by %s; waiting up to %.0f s for its lease",
                lakehouse,
                holder.describe(),
                wait_seconds,
            )
            reported = holder.token
        time.sleep(max(0.0, min(poll, deadline - time.monotonic())))
    log.info("lakehouse lease of %s taken by %s", lakehouse, record.describe())
    try:
        yield record
    finally:
        log.info("lakehouse lease of %s released by %s", lakehouse, record.owner)  # logged first: then freed
        backend.release()
    if backend.lost:
        raise LeaseLostError(
            f"the lease of {lakehouse} expired while this writer held it (its renewals failed), so "
            "another writer may have worked at the same time: check the object store's reachability "
            "and run again (every run is idempotent)"
        )


def current_holder(lakehouse: str, options: Mapping[str, str] | None = None) -> LeaseRecord | None:
    """The record of the writer holding the lakehouse now (None when free or unknown)."""
    return backend_for(lakehouse, options, DEFAULT_TTL_SECONDS).holder()


def backend_for(lakehouse: str, options: Mapping[str, str] | None, ttl_seconds: float) -> Backend:
    if is_local(lakehouse):
        return LocalLease(Path(lakehouse.removeprefix("file://")))
    scheme, _, rest = lakehouse.partition("://")
    if scheme in ("s3", "s3a"):
        bucket, _, prefix = rest.partition("/")
        key = f"{prefix.strip('/')}/{LEASE_FILE}" if prefix.strip("/") else LEASE_FILE
        return S3Lease(_ClientCache(options or {}), bucket, key, ttl_seconds)
    raise InputError(
        f"cannot lease lakehouse {lakehouse}: only local folders and s3:// locations are supported"
    )


class LocalLease:
    """A kernel `flock` (dies with its holder) plus a JSON lease record beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handle: int | None = None
        self._token = ""

    @property
    def lost(self) -> bool:
        return False

    def try_acquire(self, record: LeaseRecord) -> LeaseRecord | None:
        if self._handle is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self._handle = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise InputError(
                    f"cannot use lakehouse {self.root}: {exc.strerror}; check the path and its permissions"
                ) from exc
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.holder() or UNKNOWN_HOLDER
        self._token = record.token
        temporary = self.root / f".{LEASE_FILE}.{record.token}"
        temporary.write_bytes(record.to_bytes())
        temporary.replace(self.root / LEASE_FILE)
        return None

    def holder(self) -> LeaseRecord | None:
        try:
            return LeaseRecord.parse((self.root / LEASE_FILE).read_bytes())
        except OSError:
            return None

    def release(self) -> None:
        if self._handle is None:
            return
        current = self.holder()
        if current is not None and current.token == self._token:
            (self.root / LEASE_FILE).unlink(missing_ok=True)
        os.close(self._handle)  # releases the flock
        self._handle = None


def s3_client(options: Mapping[str, str]) -> Any:
    """A boto3 S3 client from deltalake-style storage options (the AWS chain fills what they lack)."""
    import boto3  # type: ignore[import-untyped]

    session = boto3.session.Session(
        aws_access_key_id=options.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=options.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=options.get("AWS_SESSION_TOKEN") or None,
        region_name=options.get("AWS_REGION") or options.get("AWS_DEFAULT_REGION") or None,
    )
    return session.client("s3", endpoint_url=options.get("AWS_ENDPOINT_URL") or None)


class _ClientCache:
    """A boto3 client for the current storage options, made anew only when they change (a refresh)."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._made: tuple[dict[str, str], Any] | None = None

    def __call__(self) -> Any:
        options = dict(self._options)  # resolved afresh: refreshed credentials arrive here
        with self._lock:
            if self._made is None or self._made[0] != options:
                self._made = (options, s3_client(options))
            return self._made[1]


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Lease:
    """A lease object written with conditional puts and kept alive by a heartbeat thread."""

    def __init__(self, client: Callable[[], Any], bucket: str, key: str, ttl_seconds: float) -> None:
        self._client = client
        self.bucket, self.key, self.ttl = bucket, key, ttl_seconds
        self._etag: str | None = None
        self._record: LeaseRecord | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._lost = False

    @property
    def lost(self) -> bool:
        return self._lost

    def try_acquire(self, record: LeaseRecord) -> LeaseRecord | None:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        s3 = self._client()
        try:
            put = s3.put_object(Bucket=self.bucket, Key=self.key, Body=record.to_bytes(), IfNoneMatch="*")
        except ClientError as exc:
            if _error_code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise TransientError(f"cannot write the lease s3://{self.bucket}/{self.key}: {exc}") from exc
            current = self._read(s3)
            if current is None:
                return self.try_acquire(record)  # released meanwhile: try again
            holder, etag, expired = current
            if not expired:
                return holder
            try:  # take over an expired lease: only one waiter's put can match its ETag
                put = s3.put_object(Bucket=self.bucket, Key=self.key, Body=record.to_bytes(), IfMatch=etag)
            except ClientError as again:
                if _error_code(again) in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                    return holder
                raise TransientError(f"cannot take over s3://{self.bucket}/{self.key}: {again}") from again
            _log.warning("took over the expired lease of %s", holder.describe())
        self._etag, self._record = str(put["ETag"]), record
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._renew_until_released, name="stedi-lease", daemon=True)
        self._heartbeat.start()
        return None

    def holder(self) -> LeaseRecord | None:
        current = self._read(self._client())
        return current[0] if current else None

    def _read(self, s3: Any) -> tuple[LeaseRecord, str, bool] | None:
        """The lease's record, ETag and whether it expired by the server's clock; None when absent."""
        from botocore.exceptions import ClientError

        try:
            got = s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise TransientError(f"cannot read the lease s3://{self.bucket}/{self.key}: {exc}") from exc
        record = LeaseRecord.parse(got["Body"].read()) or UNKNOWN_HOLDER
        ttl = record.ttl_seconds if record.ttl_seconds is not None else self.ttl
        server_now = parsedate_to_datetime(got["ResponseMetadata"]["HTTPHeaders"]["date"])
        expired = server_now > got["LastModified"] + timedelta(seconds=ttl)
        return record, str(got["ETag"]), expired

    def _renew_until_released(self) -> None:
        from botocore.exceptions import ClientError

        renewed_at = time.monotonic()
        while not self._stop.wait(self.ttl / 4):
            assert self._record is not None
            try:
                put = self._client().put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=self._record.renewed().to_bytes(),
                    IfMatch=self._etag,
                )
                self._etag, renewed_at = str(put["ETag"]), time.monotonic()
            except ClientError as exc:
                if _error_code(exc) in ("PreconditionFailed", "NoSuchKey"):
                    self._lost = True
                    _log.error(
                        "the lakehouse lease s3://%s/%s was taken over by another writer",
                        self.bucket,
                        self.key,
                    )
                    return
                _log.warning("cannot renew the lakehouse lease (will retry): %s", _error_code(exc) or exc)
            except Exception as exc:  # network errors: retry until the lease would expire
                _log.warning("cannot renew the lakehouse lease (will retry): %s", type(exc).__name__)
            if time.monotonic() - renewed_at > self.ttl:
                self._lost = True
                _log.error("the lakehouse lease s3://%s/%s expired: renewals failed", self.bucket, self.key)
                return

    def release(self) -> None:
        from botocore.exceptions import ClientError

        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        if self._etag is None or self._lost:
            return
        try:  # only our own lease: a takeover changed the ETag
            self._client().delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self._etag)
        except ClientError as exc:
            if _error_code(exc) in ("PreconditionFailed", "NoSuchKey"):
                self._lost = True
            elif _error_code(exc) == "NotImplemented":  # stores without conditional deletes
                self._client().delete_object(Bucket=self.bucket, Key=self.key)
            else:
                raise TransientError(
                    f"cannot release the lease s3://{self.bucket}/{self.key}: {exc}"
                ) from exc
        self._etag = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
