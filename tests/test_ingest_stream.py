"""The streaming ingest's pure parts: the growing id set, grouping, read-ahead, one table per group."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from stedi.ingest.dedupe import from_ids, record_hashes
from stedi.ingest.ledger import SeenFile
from stedi.ingest.lineage import ParsedLanding
from stedi.ingest.parse import parse_file
from stedi.ingest.seen import FAN_IN, SeenIds, keep_new, sort_by_h1
from stedi.ingest.stream import Tally, group_files, landing_groups, read_ahead
from stedi.schemas import ACCELEROMETER

AT = datetime(2026, 11, 27, tzinfo=UTC)


def ids(*pairs: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([p[0] for p in pairs], dtype=np.uint64),
        np.array([p[1] for p in pairs], dtype=np.uint64),
    )


def test_duplicates_within_a_group_keep_the_first_row() -> None:
    seen = SeenIds()
    keep = keep_new(seen, ids((5, 1), (3, 1), (5, 1), (3, 2), (5, 1)))
    assert keep.tolist() == [True, True, False, True, False]
    assert len(seen) == 3


def test_duplicates_across_groups_and_against_known_ids_are_dropped() -> None:
    seen = SeenIds()
    seen.add(ids((100, 7)))  # already in the table
    assert keep_new(seen, ids((1, 1), (100, 7), (2, 2))).tolist() == [True, False, True]
    assert keep_new(seen, ids((2, 2), (3, 3), (1, 1), (100, 7))).tolist() == [False, True, False, False]


def test_equal_h1_with_another_h2_is_a_different_record() -> None:
    seen = SeenIds()
    assert keep_new(seen, ids((9, 1), (9, 2), (9, 1))).tolist() == [True, True, False]
    assert keep_new(seen, ids((9, 3), (9, 2))).tolist() == [True, False]


def test_sort_by_h1_breaks_ties_of_the_low_bits_exactly() -> None:
    # h1 values that differ only in the low bits the sort borrows for the row number.
    h1 = np.array([0b1011, 0b1001, 0b1010, 0b1001, 7 << 60], dtype=np.uint64)
    s = sort_by_h1((h1, np.arange(5, dtype=np.uint64)))
    assert s.h1.tolist() == sorted(h1.tolist())
    assert s.order.tolist() == [1, 3, 2, 0, 4]
    assert s.h2.tolist() == [1, 3, 2, 0, 4]


def test_many_groups_equal_one_pass_over_all_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs merge and the bitmap grows; the result is still exactly 'first occurrence of each id'."""
    import stedi.ingest.seen

    monkeypatch.setattr(stedi.ingest.seen, "_MIN_BITS", 1024)  # so that it must grow
    rng = np.random.default_rng(1)
    n = 40_000
    h1 = rng.integers(0, 2**62, n, dtype=np.int64).astype(np.uint64) << np.uint64(2)
    h2 = rng.integers(0, 2**62, n, dtype=np.int64).astype(np.uint64)
    copies = rng.integers(0, n, n // 5)
    h1[copies[: n // 10]], h2[copies[: n // 10]] = h1[copies[n // 10 :]], h2[copies[n // 10 :]]
    h1[::997] = h1[1::997][: len(h1[::997])]  # same h1, other h2: not duplicates
    seen = SeenIds()
    keep = np.concatenate([keep_new(seen, (h1[i : i + 1000], h2[i : i + 1000])) for i in range(0, n, 1000)])
    first: dict[tuple[int, int], int] = {}
    for row, pair in enumerate(zip(h1.tolist(), h2.tolist(), strict=True)):
        first.setdefault(pair, row)
    expected = np.zeros(n, dtype=bool)
    expected[list(first.values())] = True
    assert keep.tolist() == expected.tolist()
    assert len(seen) == len(first)
    assert seen.runs < 2 * FAN_IN  # merged, not one run per group
    assert seen.bitmap_bits >= len(first) * 16  # grown with the ids


def test_record_ids_round_trip_through_the_stored_column() -> None:
    table = pa.table({"a": ["x", None, "x"], "b": [1.0, 2.0, 1.0]})
    h1, h2 = record_hashes(table, ["a", "b"])
    from stedi.ingest.dedupe import to_ids

    back = from_ids(to_ids((h1, h2)))
    assert back[0].tolist() == h1.tolist()
    assert back[1].tolist() == h2.tolist()
    assert h1[0] == h1[2] and h1[0] != h1[1]


def test_files_are_grouped_by_size_in_order() -> None:
    sizes = {"a": 40, "b": 40, "c": 40, "d": 200, "e": 10}
    assert group_files(list(sizes), sizes.__getitem__, limit=100) == [["a", "b"], ["c"], ["d"], ["e"]]
    assert group_files([], sizes.__getitem__, limit=100) == []


def test_read_ahead_keeps_order_and_raises_the_producers_error() -> None:
    assert list(read_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]

    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        list(read_ahead(broken()))


def reading(user: str, t: int) -> bytes:
    return f'{{"user":"{user}","timestamp":{t},"x":1.0,"y":2.0,"z":3.0}}\n'.encode()


def landing_file(name: str, lines: list[bytes]) -> ParsedLanding:
    data = b"".join(lines)
    return ParsedLanding(SeenFile(name, len(data), 0), "hash-" + name, parse_file(ACCELEROMETER, data, name))


def test_ingest_streams_one_table_per_group_with_at_most_one_group_read_ahead() -> None:
    t = 1_700_000_000_000
    files = [
        [landing_file("g0a.json", [reading("a@x.io", t), reading("a@x.io", t)])],
        [landing_file("g1a.json", [reading("a@x.io", t), reading("b@x.io", t)])],
        [landing_file("g2a.json", [reading("c@x.io", t)]), landing_file("g2b.json", [reading("b@x.io", t)])],
    ]
    produced: list[int] = []

    def parsed() -> Iterator[Sequence[ParsedLanding]]:
        for i, group in enumerate(files):
            produced.append(i)
            yield group

    tally = Tally()
    seen = SeenIds()
    out = []
    for table in landing_groups(ACCELEROMETER, parsed(), AT, seen, tally):
        # Memory holds the group being written and at most one parsed ahead, never the whole feed.
        assert len(produced) <= len(out) + 2
        out.append(table)
    assert [t.column("_source_file").to_pylist() for t in out] == [["g0a.json"], ["g1a.json"], ["g2a.json"]]
    assert all(t.schema == ACCELEROMETER.landing_schema for t in out)
    assert [(o.file.path, o.accepted, o.deduplicated) for o in tally.outcomes] == [
        ("g0a.json", 1, 1),
        ("g1a.json", 1, 1),
        ("g2a.json", 1, 0),
        ("g2b.json", 0, 1),
    ]
    assert tally.groups == 3


def test_record_ids_are_those_of_earlier_releases() -> None:
    """`_record_id` is stored: the hash must never change, whatever the chunking or block size."""
    table = pa.table(
        {
            "s": pa.chunked_array([["a", None, "b"], ["", "a"]]),
            "i": [1, None, 3, -5, 2**62],
            "f": [0.0, -0.0, None, 1.5, float("nan")],
            "e": pa.nulls(5, pa.string()),
        }
    )
    h1, h2 = record_hashes(table, ["s", "i", "f", "e"])
    assert [hex(v) for v in h1.tolist()] == [
        "0x72e10f98ac4c8cba", "0xa2744ab1cb3cd5fc", "0x254ce09477b16486", "0x2e98fae8570aac86",
        "0xbe593701608ee434",
    ]  # fmt: skip
    assert [hex(v) for v in h2.tolist()] == [
        "0x55de218a23e93526", "0x2b71f575559bb33c", "0x14e665a686cc1705", "0xf78d8e5f97846930",
        "0xab01a9292ea47bf3",
    ]  # fmt: skip
