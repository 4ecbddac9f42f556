"""The set of record ids one ingest has seen, exact and growing in place up to hundreds of millions of ids.

A record id is a pair of 64-bit hashes (h1, h2). The set keeps sorted runs of h1 (with h2 alongside),
merged like a tiered LSM tree (every `FAN_IN` runs of one size tier become one run of the next, so
there are at most `FAN_IN` runs per tier and each id is moved once per tier), plus a bitmap over the
top bits of h1 that answers "certainly not seen" for almost every new id without touching the runs;
only the few ids that pass it are looked up in the runs. Queries arrive sorted by h1, so the bitmap
and the runs are read in order. Nothing is rebuilt per group: adding a group costs its own size plus
the amortised merges (measured: 10M ids in groups of 700k, 1.5 to 2 s of CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stedi.ingest.dedupe import Hashes

FAN_IN = 16
_MIN_BITS = 1 << 20  # a 128 KiB bitmap for small feeds
_MAX_BITS = 1 << 32  # 512 MiB: positions are the top 32 bits of h1 scaled to the bitmap
_BITS_PER_ID = 24  # about 1 in 24 unseen ids passes the bitmap and is looked up in the runs


@dataclass(frozen=True)
class Sorted:
    """Ids sorted by h1: `order` maps each sorted position back to its row."""

    h1: np.ndarray
    h2: np.ndarray
    order: np.ndarray


def sort_by_h1(hashes: Hashes) -> Sorted:
    """Sort ids by h1."""
    h1, h2 = hashes
    order = argsort_u64(h1)
    return Sorted(h1[order], h2[order], order)


def argsort_u64(values: np.ndarray) -> np.ndarray:
    """A permutation that sorts `values` (ties in any order).

    A plain sort of uint64 is several times faster than argsort, so the row number goes into the low
    bits of a key and the sorted keys give the permutation. Rows whose values agree above those bits
    are then in row order: the few of them are re-sorted by their full value.
    """
    n = len(values)
    shift = max((n - 1).bit_length(), 1)
    low = np.uint64((1 << shift) - 1)
    keys = np.arange(n, dtype=np.uint64)
    keys |= values & ~low
    keys.sort()
    order = (keys & low).astype(np.intp)
    keys &= ~low
    tie = keys[1:] == keys[:-1]
    if tie.any():
        pos = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
        rows = order[pos]
        # Blocks of equal high bits are already in order, and within a block the full value decides.
        order[pos] = rows[np.argsort(values[rows], kind="stable")]
    return order


def first_in_sorted(ids: Sorted) -> np.ndarray:
    """Mask over sorted positions: True at the first row (lowest row number) of every distinct id."""
    n = len(ids.h1)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    same = ids.h1[1:] == ids.h1[:-1]
    if not same.any():
        return keep
    # Only rows sharing an h1 with a neighbour can be duplicates: sort those few by (h1, h2, row).
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    pos = np.flatnonzero(tied)
    by = pos[np.lexsort((ids.order[pos], ids.h2[pos], ids.h1[pos]))]
    repeat = (ids.h1[by][1:] == ids.h1[by][:-1]) & (ids.h2[by][1:] == ids.h2[by][:-1])
    keep[by[1:][repeat]] = False
    return keep


class SeenIds:
    """An exact, growing set of record ids."""

    def __init__(self, expected: int = 0) -> None:
        """`expected`: about how many ids will be added, so the bitmap is sized once, not regrown."""
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._bits = _bitmap_size(expected)
        self._bitmap = np.zeros(self._bits // 64, dtype=np.uint64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def runs(self) -> int:
        return len(self._runs)

    @property
    def bitmap_bits(self) -> int:
        return self._bits

    def contains(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Mask: True where (h1, h2) is in the set. Faster when h1 is sorted."""
        out = np.zeros(len(h1), dtype=bool)
        if not self._count or not len(h1):
            return out
        maybe = np.flatnonzero(self._test_bits(h1))
        if not len(maybe):
            return out
        q1, q2 = h1[maybe], h2[maybe]
        for r1, r2 in self._runs:
            left = np.searchsorted(r1, q1, side="left")
            hit = left < len(r1)
            hit[hit] = r1[left[hit]] == q1[hit]
            if not hit.any():
                continue
            rows = np.flatnonzero(hit)
            right = np.searchsorted(r1, q1[rows], side="right")
            single = right - left[rows] == 1
            found = np.zeros(len(rows), dtype=bool)
            found[single] = r2[left[rows][single]] == q2[rows][single]
            # Several ids share this h1 (a 64-bit collision, or an id added twice): compare each one.
            for k in np.flatnonzero(~single):
                found[k] = bool(np.any(r2[left[rows[k]] : right[k]] == q2[rows[k]]))
            out[maybe[rows[found]]] = True
        return out

    def add_sorted(self, h1: np.ndarray, h2: np.ndarray) -> None:
        """Add ids already sorted by h1 (as `sort_by_h1` gives them)."""
        if not len(h1):
            return
        self._count += len(h1)
        self._runs.append((h1, h2))
        while len(self._runs) >= FAN_IN and _tier(self._runs[-FAN_IN]) <= _tier(self._runs[-1]):
            tail = self._runs[-FAN_IN:]
            del self._runs[-FAN_IN:]
            self._runs.append(_merge_all(tail))
        if self._count * _BITS_PER_ID > self._bits and self._bits < _MAX_BITS:
            self._grow()
        else:
            self._set_bits(h1)

    def add(self, hashes: Hashes) -> None:
        ids = sort_by_h1(hashes)
        self.add_sorted(ids.h1, ids.h2)

    def _positions(self, h1: np.ndarray) -> np.ndarray:
        # (top 32 bits) * size / 2^32: any size, and positions keep the order of h1.
        pos = h1 >> np.uint64(32)
        pos *= np.uint64(self._bits)
        pos >>= np.uint64(32)
        return pos

    def _test_bits(self, h1: np.ndarray) -> np.ndarray:
        pos = self._positions(h1)
        words = self._bitmap[(pos >> np.uint64(6)).astype(np.intp)]
        return ((words >> (pos & np.uint64(63))) & np.uint64(1)).astype(bool)

    def _set_bits(self, h1: np.ndarray) -> None:
        pos = self._positions(h1)
        bits = np.uint64(1) << (pos & np.uint64(63))
        np.bitwise_or.at(self._bitmap, (pos >> np.uint64(6)).astype(np.intp), bits)

    def _grow(self) -> None:
        self._bits = _bitmap_size(4 * self._count)  # room for x4, so regrowing costs a fraction of the adds
        self._bitmap = np.zeros(self._bits // 64, dtype=np.uint64)
        for r1, _ in self._runs:
            self._set_bits(r1)


def _bitmap_size(ids: int) -> int:
    """Bits for `ids` ids, a multiple of 64 within [_MIN_BITS, _MAX_BITS]."""
    return min(_MAX_BITS, max(_MIN_BITS, -(-ids * _BITS_PER_ID // 64) * 64))


def _tier(run: tuple[np.ndarray, np.ndarray]) -> int:
    """Size tier of a run: runs within a factor FAN_IN of each other share a tier."""
    return len(run[0]).bit_length() // (FAN_IN.bit_length() - 1)


def _merge_all(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One run from several sorted ones."""
    h1 = np.concatenate([r[0] for r in runs])
    h2 = np.concatenate([r[1] for r in runs])
    order = argsort_u64(h1)
    return h1[order], h2[order]


def keep_new(seen: SeenIds, hashes: Hashes) -> np.ndarray:
    """Mask in row order: True for the first row of each id not yet in `seen`; those ids join `seen`."""
    return keep_sorted(seen, sort_by_h1(hashes))


def keep_sorted(seen: SeenIds, ids: Sorted) -> np.ndarray:
    """`keep_new` of ids already sorted by h1 (`sort_by_h1`)."""
    fresh = first_in_sorted(ids)
    fresh &= ~seen.contains(ids.h1, ids.h2)
    seen.add_sorted(ids.h1[fresh], ids.h2[fresh])
    keep = np.zeros(len(fresh), dtype=bool)
    keep[ids.order[fresh]] = True
    return keep
