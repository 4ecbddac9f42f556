"""Validate a table's suite over a stream of frames, with memory bounded by one buffer.

The same split as `stedi.validation.validate`, fed piece by piece:
- row-wise expectations run on buffers of at most `BATCH_ROWS` rows (only the columns they name)
  and their counts add up; a blocking row-wise failure raises as soon as its buffer is checked, so
  a streaming write is aborted before it commits;
- row-wise expectations with `mostly` below 1 run once, at the end, on a uniform sample of at most
  `SAMPLE_ROWS` rows kept while streaming (bottom-k of a random key per row); below that size the
  sample is every row, as in `validate`;
- table-level expectations run on a zero-row frame; whole-column expectations (uniqueness) keep
  their columns until the end (they exist only on the small customer tables).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import pyarrow as pa

from stedi import validation_pool
from stedi.errors import ValidationFailedError
from stedi.policy import Policy
from stedi.validation import (
    BATCH_ROWS,
    ROW_WISE,
    SAMPLE_ROWS,
    TABLE_LEVEL,
    MapParts,
    Part,
    PartResult,
    ValidationReport,
    _mostly,
    _project,
    _report,
    _serial,
    run_part,
    suite_for,
)


class StreamValidator:
    """Add frames with `add`, then `finish` for the report (which also raises nothing by itself)."""

    def __init__(
        self,
        table: str,
        policy: Policy,
        schema: pa.Schema | None = None,
        map_parts: MapParts | None = None,
        buffer_rows: int = BATCH_ROWS,
        sample_rows: int = SAMPLE_ROWS,
        seed: int = 0,
    ) -> None:
        self.table = table
        self.expectations = suite_for(table, policy)
        self._schema = schema
        self._map = map_parts or _serial
        self._buffer_rows = buffer_rows
        self._sample_rows = sample_rows
        self._rng = np.random.default_rng(seed)
        groups: dict[str, list[int]] = {"schema": [], "whole": [], "sampled": [], "rows": []}
        for i, e in enumerate(self.expectations):
            if e["type"] in TABLE_LEVEL:
                groups["schema"].append(i)
            elif e["type"] not in ROW_WISE:
                groups["whole"].append(i)
            elif _mostly(e) < 1.0:
                groups["sampled"].append(i)
            else:
                groups["rows"].append(i)
        self._groups = {k: tuple(v) for k, v in groups.items()}
        self._rows = 0
        self._parts = 0
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._whole: list[pa.Table] = []
        self._sample: pa.Table | None = None
        self._sample_keys = np.zeros(0)
        self._results: dict[int, list[PartResult]] = {}
        self._seconds = 0.0
        self._pending: list[Future[list[PartResult]]] = []

    @property
    def rows(self) -> int:
        return self._rows

    def _chosen(self, group: str) -> tuple[dict[str, Any], ...]:
        return tuple(self.expectations[i] for i in self._groups[group])

    def add(self, frame: pa.Table | pa.RecordBatch) -> None:
        """Take one frame (the table's columns plus audit columns); may run a buffer's checks."""
        if isinstance(frame, pa.RecordBatch):
            frame = pa.Table.from_batches([frame])
        if self._schema is None:
            self._schema = frame.schema
        if frame.num_rows == 0:
            return
        self._rows += frame.num_rows
        if self._groups["rows"]:
            self._buffer.append(_project(frame, self._chosen("rows")))
            self._buffered += frame.num_rows
            if self._buffered >= self._buffer_rows:
                self._flush()
        if self._groups["whole"]:
            self._whole.append(_project(frame, self._chosen("whole")))
        if self._groups["sampled"]:
            self._keep_sample(_project(frame, self._chosen("sampled")))

    def _keep_sample(self, frame: pa.Table) -> None:
        keys = self._rng.random(frame.num_rows)
        if self._sample is not None and len(self._sample_keys) >= self._sample_rows:
            # Once the sample is full only rows below its largest key can enter: usually few.
            entering = keys < self._sample_keys.max()
            if not entering.any():
                return
            frame, keys = frame.filter(pa.array(entering)), keys[entering]
        merged = frame if self._sample is None else pa.concat_tables([self._sample, frame])
        merged_keys = np.concatenate([self._sample_keys, keys])
        if len(merged_keys) > self._sample_rows:
            keep = np.sort(np.argpartition(merged_keys, self._sample_rows)[: self._sample_rows])
            merged, merged_keys = merged.take(pa.array(keep)), merged_keys[keep]
        self._sample, self._sample_keys = merged, merged_keys

    def _run(self, group: str, frame: pa.Table) -> None:
        """Check a part: in the validation process when it runs (results collected later), else here."""
        part = Part(f"{self.table}.{group}.{self._parts}", self._groups[group], self._chosen(group), frame)
        self._parts += 1
        future = validation_pool.submit(run_part, part)
        if future is not None:
            self._pending.append(future)
            self._collect(wait=False)
            return
        started = time.perf_counter()
        for results in self._map(run_part, [part]):
            self._record(results)
        self._seconds += time.perf_counter() - started
        self._raise_if_blocking()

    def _record(self, results: list[PartResult]) -> None:
        for r in results:
            self._results.setdefault(r.index, []).append(r)

    def _collect(self, wait: bool) -> None:
        started = time.perf_counter()
        while self._pending and (wait or self._pending[0].done()):
            self._record(self._pending.pop(0).result())
        if wait:
            self._seconds += time.perf_counter() - started
        self._raise_if_blocking()

    def _flush(self) -> None:
        if not self._buffer:
            return
        frame = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        self._run("rows", frame)

    def _raise_if_blocking(self) -> None:
        blocking = [
            i
            for i in self._groups["rows"]
            if str(self.expectations[i].get("severity") or "critical") == "critical"
            and not all(r.success for r in self._results.get(i, []))
        ]
        if blocking:
            # The report holds every row-wise check with results so far, so the stopped run's
            # record shows what passed beside what failed.
            report = self._partial_report([i for i in self._groups["rows"] if self._results.get(i)])
            raise ValidationFailedError(
                self.table, [o.describe() for o in report.blocking_failures], report=report
            )

    def _partial_report(self, index: Sequence[int]) -> ValidationReport:
        chosen = [self.expectations[i] for i in index]
        results = {k: self._results[i] for k, i in enumerate(index)}
        return _report(self.table, self._rows, chosen, results, {})

    def finish(self) -> ValidationReport:
        """Run what is left and return the whole suite's report."""
        if self._schema is None:
            raise ValueError(f"{self.table}: no frame and no schema to validate against")
        self._flush()
        if self._groups["schema"]:
            self._run("schema", self._schema.empty_table())
        if self._groups["whole"]:
            frames = self._whole or [_project(self._schema.empty_table(), self._chosen("whole"))]
            self._run("whole", pa.concat_tables(frames))
        sampled: dict[int, int] = {}
        if self._groups["sampled"]:
            sample = self._sample or _project(self._schema.empty_table(), self._chosen("sampled"))
            self._run("sampled", sample)
            if self._rows > sample.num_rows:
                sampled = dict.fromkeys(self._groups["sampled"], sample.num_rows)
        for i in self._groups["rows"]:
            self._results.setdefault(i, [])
        self._collect(wait=True)
        if self._groups["rows"] and not any(self._results[i] for i in self._groups["rows"]):
            # An empty stream: run the row-wise checks once on zero rows, as `validate` would.
            self._run("rows", _project(self._schema.empty_table(), self._chosen("rows")))
            self._collect(wait=True)
        return _report(self.table, self._rows, self.expectations, self._results, sampled, self._seconds)
