"""A Great Expectations Data Docs site that renders without internet and grows one run at a time.

GX's page templates load jQuery, Bootstrap, bootstrap-table, Font Awesome and others from public
CDNs; without them the index is unstyled and its validation list (filled in by bootstrap-table) stays
empty. Here the same templates are read through a loader that points those links at copies served
from the site itself (`static/vendor/`, from `stedi/data_docs_assets/vendor`), drops links to GX's
web site, and drops the Vega scripts (only profiling pages draw charts; our pages never do).

GX loads this module by name from the site configuration (see `stedi.gx_stores`).
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.render.renderer.site_builder import SiteBuilder
from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BaseLoader, BytecodeCache, ChoiceLoader, Environment, FileSystemBytecodeCache
from jinja2.bccache import Bucket

ASSETS = Path(__file__).parent / "data_docs_assets" / "vendor"
MARKER = ("static", "vendor", "stedi-assets.txt")  # names the copied assets' version

# Each CDN address in GX's templates and the copy under static/vendor/ that replaces it.
_UNPKG = "https://unpkg.com/bootstrap-table@"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
_BOOTSTRAP = "bootstrapcdn.com/bootstrap/4.3.1/"
_FILTER = "/dist/extensions/filter-control/bootstrap-table-filter-control"
_LOCAL_FILTER = "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control"
_DATEPICKER = "bootstrap-datepicker/1.9.0/"
LOCAL_COPIES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": "popper.js/popper.min.js",
    f"https://stackpath.{_BOOTSTRAP}js/bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    f"https://maxcdn.{_BOOTSTRAP}css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    f"{_UNPKG}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    f"{_UNPKG}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    f"{_UNPKG}1.19.1{_FILTER}.min.js": f"{_LOCAL_FILTER}.min.js",
    f"{_UNPKG}1.19.0{_FILTER}.css": f"{_LOCAL_FILTER}.css",
    f"{_UNPKG}1.19.0{_FILTER}.min.css": f"{_LOCAL_FILTER}.min.css",
    f"{_CDNJS}{_DATEPICKER}js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js"
    ),
    f"{_CDNJS}{_DATEPICKER}css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css"
    ),
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": "fontawesome/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark/bootstrap-prefers-dark.min.css"
    ),
}
# Images GX's templates and styles load from its web assets bucket, and the copy GX ships instead.
LOCAL_IMAGES = {
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png": "logo-long.png",
}
_PREFIX = "stedi_static(renderer_type, expectation_suite_name)"
_STATIC = "{{ " + _PREFIX + " }}"
_EDITS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Vega draws profiling charts only; without internet it would be a dead request on every page.
    (re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/vega[^"]*"></script>\s*'), ""),
    # Subresource-integrity and CORS attributes block local files opened from disk.
    (re.compile(r'\s+(integrity="[^"]*"|crossorigin="anonymous")'), ""),
    # The navbar logo comes from GX's web assets bucket: use the copy GX ships in static/images.
    (
        re.compile(r'{%\s*set static_images_dir = "https://[^"]*"\s*-?%}'),
        "{% set static_images_dir = " + _PREFIX + ' + "images/" -%}',
    ),
    # GX's favicon path is one level short on validation pages.
    (re.compile(r'{{\s*static_images_dir \+ "favicon\.ico"\s*}}'), _STATIC + "images/favicon.ico"),
    # Links out to GX's web site keep their text only.
    (re.compile(r'<a href="https?://[^"]*"[^>]*>(.*?)</a>', re.S), r"\1"),
)
_EMPTY = frozenset({"cloud-footer.j2"})  # a newsletter sign-up footer


def static_prefix(renderer_type: str | None, suite_name: str | None) -> str:
    """The relative path from a page to the site's `static/` folder (pages nest by suite name parts)."""
    dots = (suite_name or "").count(".")
    kind = renderer_type or ""
    if "ValidationResults" in kind or "ProfilingResults" in kind:
        return "../" * (dots + 4) + "static/"  # validations/<suite parts>/<run name>/<run time>/
    if "ExpectationSuite" in kind:
        return "../" * (dots + 1) + "static/"  # expectations/<suite parts>.html
    return "./static/"


def offline_source(name: str, source: str) -> str:
    """GX's template `name` with CDN links pointing at the site's own copies."""
    if name in _EMPTY:
        return ""
    for url, local in LOCAL_COPIES.items():
        source = source.replace(url, f"{_STATIC}vendor/{local}")
    for url, image in LOCAL_IMAGES.items():
        source = source.replace(url, f"{_STATIC}images/{image}")
    for pattern, replacement in _EDITS:
        source = pattern.sub(replacement, source)
    return source


class OfflineLoader(BaseLoader):
    """Another loader's templates, read through `offline_source`."""

    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Any]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        return offline_source(template, source), filename, uptodate


def _offline(env: Environment) -> None:
    # GX's loaders: its templates, its styles (included inline into every page), then custom ones.
    assert isinstance(env.loader, ChoiceLoader)
    env.loader = ChoiceLoader([OfflineLoader(loader) for loader in env.loader.loaders])
    env.globals["stedi_static"] = static_prefix
    env.bytecode_cache = _COMPILED
    env.auto_reload = False  # GX's installed templates do not change during a render: no stat per use


class CompiledTemplates(BytecodeCache):
    """Compiled templates shared by every view in the process (GX builds one environment per view),
    and kept between processes in Jinja's per-user cache folder.

    Compiling GX's templates takes ≈ 0.1 s of every run's Data Docs in a new process; Jinja checks
    a cached template against its source's checksum and Python version before using it.
    """

    def __init__(self, directory: str | None = None) -> None:
        self.code: dict[str, bytes] = {}
        self.disk: BytecodeCache | None = None
        with contextlib.suppress(Exception):  # no usable cache folder: compile in every process
            self.disk = FileSystemBytecodeCache(directory)

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])
        elif self.disk is not None:
            with contextlib.suppress(Exception):  # unreadable or stale: Jinja compiles the template
                self.disk.load_bytecode(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()
        if self.disk is not None:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                self.disk.dump_bytecode(bucket)


_COMPILED = CompiledTemplates()


class OfflinePageView(DefaultJinjaPageView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offline(self.env)


class OfflineIndexPageView(DefaultJinjaIndexPageView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offline(self.env)


def asset_files() -> Iterator[tuple[tuple[str, ...], Path]]:
    """(site key, file) for every vendored asset."""
    for path in sorted(ASSETS.rglob("*")):
        if path.is_file():
            yield ("static", "vendor", *path.relative_to(ASSETS).parts), path


@cache
def assets_version() -> str:
    """Changes when GX or any vendored file changes, so a site gets fresh copies after an upgrade."""
    digest = hashlib.sha256(gx.__version__.encode())
    for key, path in asset_files():
        digest.update("/".join(key).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class IncrementalSiteBuilder(SiteBuilder):
    """GX's SiteBuilder that renders only the pages named, and copies static assets once per version.

    GX's own `build` copies its 4 MB of static files on every call; over S3 that is most of a run's
    cost. With `resource_identifiers=[]` only the index is rebuilt.
    """

    def build(
        self, resource_identifiers: list[Any] | None = None, build_index: bool = True
    ) -> tuple[str | None, Any]:
        if resource_identifiers is None or resource_identifiers:
            for section in self.site_section_builders.values():
                section.build(resource_identifiers=resource_identifiers)
        self.copy_assets_once()
        _, links = self.site_index_builder.build(build_index=build_index)
        return self.get_resource_url(only_if_exists=False), links

    def copy_assets_once(self) -> None:
        backend = self.target_store.store_backends["static_assets"]
        version = assets_version()
        if backend.has_key(MARKER) and _text(backend.get(MARKER)) == version:
            return
        self.target_store.copy_static_assets()  # GX's own styles, fonts and images
        for key, path in asset_files():
            content_type, encoding = mimetypes.guess_type(path.name)
            backend.set(
                key,
                path.read_bytes(),
                content_type=content_type or _font_type(path),
                content_encoding=encoding,
            )
        backend.set(MARKER, version, content_type="text/plain")


def _font_type(path: Path) -> str:
    return "font/woff2" if path.suffix == ".woff2" else "application/octet-stream"


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
