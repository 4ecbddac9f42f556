"""A Great Expectations store backend over a pyarrow filesystem, for stores and sites on `s3://`.

GX 1.x ships a filesystem backend only (its S3 backend was removed), so S3 goes through the same
pyarrow filesystem the rest of the lakehouse uses. Credentials never enter GX's configuration (which
GX may print): the configuration names a filesystem registered in this process with `register`.
GX loads this module by name from the store configuration (see `stedi.gx_stores`).
"""

from __future__ import annotations

import posixpath
from typing import Any

import pyarrow.fs as pafs
from great_expectations.data_context.store.store_backend import StoreBackend
from great_expectations.data_context.store.tuple_store_backend import TupleStoreBackend
from great_expectations.exceptions.exceptions import InvalidKeyError, StoreBackendError

_filesystems: dict[str, pafs.FileSystem] = {}


def register(fs: pafs.FileSystem) -> str:
    """Make `fs` known to backends built in this process; return the name to put in their config."""
    name = f"{type(fs).__name__}-{id(fs)}"
    _filesystems[name] = fs
    return name


class ArrowStoreBackend(TupleStoreBackend):
    """Keys are paths under `base_directory` on the registered filesystem `filesystem`."""

    def __init__(
        self,
        filesystem: str,
        base_directory: str,
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
        if filesystem not in _filesystems:
            raise StoreBackendError(
                f"filesystem {filesystem!r} is not registered in this process: "
                "build the context with stedi.gx_stores.open_context"
            )
        self.fs = _filesystems[filesystem]
        self.base = base_directory.rstrip("/")
        self.url_base = url_base.rstrip("/")
        self._config = {
            "filesystem": filesystem,
            "base_directory": base_directory,
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
        self._config = {k: v for k, v in self._config.items() if v}
        if not self._suppress_store_backend_id:
            _ = self.store_backend_id

    def _path(self, key: tuple[str, ...]) -> str:
        return f"{self.base}/{self._convert_key_to_filepath(key)}"  # type: ignore[no-untyped-call]

    def _get(self, key: tuple[str, ...]) -> str:  # type: ignore[override]
        path = self._path(key)
        try:
            with self.fs.open_input_stream(path) as stream:
                return bytes(stream.read()).decode("utf-8").rstrip("\n")
        except FileNotFoundError as exc:
            raise InvalidKeyError(f"no object at {path}") from exc

    def _get_all(self) -> list[Any]:
        return [self._get(k) for k in self.list_keys() if k != StoreBackend.STORE_BACKEND_ID_KEY]

    def _set(self, key: Any, value: str | bytes, **kwargs: Any) -> str:  # type: ignore[override]
        if not isinstance(key, tuple):
            key = key.to_tuple()
        path = self._path(key)
        data = value.encode("utf-8") if isinstance(value, str) else value
        content_type = kwargs.get("content_type")
        metadata = {"Content-Type": content_type} if content_type else None
        with self.fs.open_output_stream(path, metadata=metadata) as out:
            out.write(data)
        return path

    def _move(self, source_key: tuple[str, ...], dest_key: tuple[str, ...], **kwargs: Any) -> Any:
        source = self._path(source_key)
        if self.fs.get_file_info(source).type != pafs.FileType.File:
            return False
        self.fs.move(source, self._path(dest_key))
        return dest_key

    def list_keys(self, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        root = "/".join([self.base, *prefix])
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        keys = []
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            relative = posixpath.relpath(info.path, self.base)
            if self._is_missing_prefix_or_suffix(self.filepath_prefix, self.filepath_suffix, relative):
                continue
            key = self._convert_filepath_to_key(relative)  # type: ignore[no-untyped-call]
            if key and not self.is_ignored_key(key):  # type: ignore[no-untyped-call]
                keys.append(key)
        return keys

    def remove_key(self, key: Any) -> bool:  # type: ignore[override]
        if not isinstance(key, tuple):
            key = key.to_tuple()
        path = self._path(key)
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return False
        self.fs.delete_file(path)
        return True

    def _has_key(self, key: tuple[str, ...]) -> bool:
        return bool(self.fs.get_file_info(self._path(key)).type == pafs.FileType.File)

    def get_url_for_key(self, key: tuple[str, ...], protocol: str | None = None) -> str:
        return f"{self.url_base}/{self._convert_key_to_filepath(key)}"  # type: ignore[no-untyped-call]

    @property
    def config(self) -> dict[str, Any]:
        return self._config
