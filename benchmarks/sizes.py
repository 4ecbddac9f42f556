"""Named benchmark sizes and the landing data behind them."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from stedi.generate import GeneratorSpec, generate

REPO = Path(__file__).resolve().parent.parent
# Measured on the generator's defaults: 30 timestamps per customer, 90% with readings, 2-4 readings each.
READINGS_PER_CUSTOMER = 81
FILES = 100  # files per feed, so 1% new files is one file per feed
SEED = 7


@dataclass(frozen=True)
class Size:
    name: str
    readings: int  # accelerometer readings wanted (0: the course data)
    copies_of: str | None = None  # built as disjoint copies of a smaller size (see `replicate`)

    @property
    def customers(self) -> int:
        return max(1, self.readings // READINGS_PER_CUSTOMER)

    @property
    def extra_customers(self) -> int:
        """Customers in the 1% of new files added before the incremental run."""
        base = 956 if self.readings == 0 else self.customers
        return max(10, base // 100)


SIZES = {
    s.name: s
    for s in (
        Size("course", 0),
        Size("1m", 1_000_000),
        Size("10m", 10_000_000),
        Size("100m", 100_000_000, copies_of="10m"),
    )
}


def udacity_data() -> Path:
    return Path(os.environ.get("STEDI_UDACITY_DATA", REPO.parent / "shared" / "data" / "udacity"))


def _ensure(folder: Path, spec: dict[str, object], build: object) -> Path:
    marker = folder / ".spec"
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    build(folder)  # type: ignore[operator]
    marker.write_text(json.dumps(spec))
    return folder


def base_landing(size: Size, data: Path) -> Path:
    """The landing root of `size`, generated once and reused by later benchmark runs."""
    folder = data / size.name / "base"
    if size.readings == 0:
        source = udacity_data()
        if not source.exists():
            raise SystemExit(f"course data not found at {source}: set STEDI_UDACITY_DATA")
        return _ensure(
            folder,
            {"copy": str(source)},
            lambda f: shutil.copytree(source, f, dirs_exist_ok=True),
        )
    if size.copies_of:
        return _copies(size, folder, base_landing(SIZES[size.copies_of], data))
    spec = GeneratorSpec(customers=size.customers, seed=SEED, files=FILES)
    return _ensure(folder, asdict(spec), lambda f: generate(f, spec))


def extra_landing(size: Size, data: Path) -> Path:
    """One new file per feed with about 1% more customers (another seed, so other file names)."""
    folder = data / size.name / "extra"
    if size.copies_of:
        return _copies(size, folder, extra_landing(SIZES[size.copies_of], data))
    spec = GeneratorSpec(customers=size.extra_customers, seed=SEED + 1, files=1)

    def build(target: Path) -> None:
        # The generator numbers emails from 0 for every seed, so another seed repeats some base
        # customers' emails: prefixed, the new files hold new customers only, as the 1% step intends.
        generate(target, spec)
        for path in target.rglob("*.json"):
            path.write_bytes(_prefixed(path.read_bytes(), "new."))

    return _ensure(folder, {**asdict(spec), "identities": "new."}, build)


def link_tree(source: Path, target: Path) -> int:
    """Hard-link every landing file of `source` into `target` (same layout); returns the file count."""
    count = 0
    for path in sorted(p for p in source.rglob("*.json") if not p.name.startswith(".")):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, dest)
        count += 1
    return count


def _copies(size: Size, folder: Path, origin: Path) -> Path:
    copies = size.readings // SIZES[str(size.copies_of)].readings
    spec = {"copies_of": str(origin), "copies": copies, "origin": (origin / ".spec").read_text()}
    return _ensure(folder, spec, lambda f: replicate(origin, f, copies))


# The identity fields of each feed, as the generator writes them (compact JSON).
_IDENTITIES = (b'"email":"', b'"user":"', b'"serialNumber":"')


def replicate(source: Path, target: Path, copies: int) -> None:
    """`copies` disjoint copies of a generated landing root: copy k prefixes every email, user and
    serial number with `k<k>.`, so each copy is a population of its own with the same shape.

    Generating 100M readings record by record takes over an hour of one core; copying bytes with
    the identities rewritten takes minutes. Copy 0 is the source itself (hard links).
    """
    for path in sorted(p for p in source.rglob("*.json") if not p.name.startswith(".")):
        relative = path.relative_to(source)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target / relative)
        data = path.read_bytes()
        for k in range(1, copies):
            copy = _prefixed(data, f"k{k}.")
            (target / relative.with_name(f"{path.stem}-k{k}{path.suffix}")).write_bytes(copy)


def _prefixed(data: bytes, prefix: str) -> bytes:
    """NDJSON with every email, user and serial number prefixed: another population, same shape."""
    for field in _IDENTITIES:
        data = data.replace(field, field + prefix.encode())
    return data
