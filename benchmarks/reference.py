"""Run the DuckDB reference script (benchmarks/reference.sql) on a landing root, writing Parquet."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

SQL = Path(__file__).with_name("reference.sql")


def run_reference(landing: Path, out: Path, salt: str = "benchmark-salt") -> None:
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    script = SQL.read_text().format(landing=landing.resolve(), out=out.resolve(), salt=salt)
    con = duckdb.connect()
    con.execute(script)
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    run_reference(args.landing, args.out)


if __name__ == "__main__":
    main()
