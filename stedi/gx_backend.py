"""A Great Expectations store backend on S3, for the stores and the Data Docs site of `s3://` lakehouses.

GX 1.x ships a filesystem backend only (its S3 backend was removed). This one speaks to S3 with a
boto3 client: one request per read, write or listing page (a render does a few dozen). Credentials
never enter GX's configuration, which GX may print: the configuration names a client registered in
this process with `register`. GX loads this module by name from the store configuration (see
`stedi.gx_stores`).
"""

from __future__ import annotations

from typing import Any

from great_expectations.data_context.store.store_backend import StoreBackend
from great_expectations.data_context.store.tuple_store_backend import TupleStoreBackend
from great_expectations.exceptions.exceptions import InvalidKeyError, StoreBackendError

_clients: dict[str, Any] = {}


def register(client: Any) -> str:
    """Make a boto3 S3 client known to backends built in this process; return the name for their config."""
    name = f"s3-client-{id(client)}"
    _clients[name] = client
    return name


def _missing(exc: Exception) -> bool:
    code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3StoreBackend(TupleStoreBackend):
    """Keys are objects under `prefix` in `bucket`, reached with the registered client `client`."""

    def __init__(
        self,
        client: str,
        bucket: str,
        prefix: str,
        url_base: str = "",
        filepath_template: str | None = None,
        filepath_prefix: str | None = None,
        filepath_suffix: str | None = None,
        forbidden_substrings: list[str] | None = None,
        fixed_length_key: bool = False,
        suppress_store_backend_id: bool = False,
        manually_initialize_store_backend_id: str = "",
        base_public_path: str | None = None,
        store_name: str | None = None,
    ) -> None:
        super().__init__(
            filepath_template=filepath_template,
            filepath_prefix=filepath_prefix,
            filepath_suffix=filepath_suffix,
            forbidden_substrings=forbidden_substrings,
            platform_specific_separator=False,
            fixed_length_key=fixed_length_key,
            suppress_store_backend_id=suppress_store_backend_id,
            manually_initialize_store_backend_id=manually_initialize_store_backend_id,
            base_public_path=base_public_path,
            store_name=store_name,
        )
        if client not in _clients:
            raise StoreBackendError(
                f"S3 client {client!r} is not registered in this process: "
                "build the context with stedi.gx_stores.open_context"
            )
        self.client = _clients[client]
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url_base = url_base.rstrip("/")
        config = {
            "client": client,
            "bucket": bucket,
            "prefix": prefix,
            "url_base": url_base,
            "filepath_template": filepath_template,
            "filepath_prefix": filepath_prefix,
            "filepath_suffix": filepath_suffix,
            "forbidden_substrings": forbidden_substrings,
            "fixed_length_key": fixed_length_key,
            "suppress_store_backend_id": suppress_store_backend_id,
            "manually_initialize_store_backend_id": manually_initialize_store_backend_id,
            "base_public_path": base_public_path,
            "store_name": store_name,
            "module_name": self.__class__.__module__,
            "class_name": self.__class__.__name__,
        }
        self._config = {k: v for k, v in config.items() if v}
        if not self._suppress_store_backend_id:
            _ = self.store_backend_id

    def _object(self, key: tuple[str, ...]) -> str:
        return f"{self.prefix}/{self._convert_key_to_filepath(key)}"  # type: ignore[no-untyped-call]

    def _get(self, key: tuple[str, ...]) -> str:  # type: ignore[override]
        name = self._object(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        except Exception as exc:
            if _missing(exc):
                raise InvalidKeyError(f"no object s3://{self.bucket}/{name}") from exc
            raise
        return bytes(body).decode("utf-8").rstrip("\n")

    def _get_all(self) -> list[Any]:
        return [self._get(k) for k in self.list_keys() if k != StoreBackend.STORE_BACKEND_ID_KEY]

    def _set(self, key: Any, value: str | bytes, **kwargs: Any) -> str:  # type: ignore[override]
        if not isinstance(key, tuple):
            key = key.to_tuple()
        name = self._object(key)
        body = value.encode("utf-8") if isinstance(value, str) else value
        extra = {"ContentType": kwargs["content_type"]} if kwargs.get("content_type") else {}
        self.client.put_object(Bucket=self.bucket, Key=name, Body=body, **extra)
        return name

    def _move(self, source_key: tuple[str, ...], dest_key: tuple[str, ...], **kwargs: Any) -> Any:
        if not self._has_key(source_key):
            return False
        source = {"Bucket": self.bucket, "Key": self._object(source_key)}
        self.client.copy_object(Bucket=self.bucket, Key=self._object(dest_key), CopySource=source)
        self.client.delete_object(**source)
        return dest_key

    def list_keys(self, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        # List under the filepath prefix only: a site's pages share one folder with its static files.
        head = "/".join([self.prefix, *([self.filepath_prefix] if self.filepath_prefix else []), *prefix])
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{head}/"
        ):
            for item in page.get("Contents", []):
                relative = str(item["Key"])[len(self.prefix) + 1 :]
                if self._is_missing_prefix_or_suffix(self.filepath_prefix, self.filepath_suffix, relative):
                    continue
                key = self._convert_filepath_to_key(relative)  # type: ignore[no-untyped-call]
                if key and not self.is_ignored_key(key):  # type: ignore[no-untyped-call]
                    keys.append(key)
        return keys

    def remove_key(self, key: Any) -> bool:  # type: ignore[override]
        if not isinstance(key, tuple):
            key = key.to_tuple()
        if not self._has_key(key):
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))
        return True

    def _has_key(self, key: tuple[str, ...]) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return True

    def get_url_for_key(self, key: tuple[str, ...], protocol: str | None = None) -> str:
        return f"{self.url_base}/{self._convert_key_to_filepath(key)}"  # type: ignore[no-untyped-call]

    @property
    def config(self) -> dict[str, Any]:
        return self._config
