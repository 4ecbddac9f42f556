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
        Size("100m", 100_000_000),
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
    spec = GeneratorSpec(customers=size.customers, seed=SEED, files=FILES)
    return _ensure(folder, asdict(spec), lambda f: generate(f, spec))


def extra_landing(size: Size, data: Path) -> Path:
    """One new file per feed with about 1% more customers (another seed, so other file names)."""
    folder = data / size.name / "extra"
    spec = GeneratorSpec(customers=size.extra_customers, seed=SEED + 1, files=1)
    return _ensure(folder, asdict(spec), lambda f: generate(f, spec))


def link_tree(source: Path, target: Path) -> int:
    """Hard-link every landing file of `source` into `target` (same layout); returns the file count."""
    count = 0
    for path in sorted(p for p in source.rglob("*.json") if not p.name.startswith(".")):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, dest)
        count += 1
    return count
