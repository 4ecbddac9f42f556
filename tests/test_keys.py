"""Key lookups used by the rules give Arrow's answers whatever the sizes of their two sides."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stedi.rules.keys import index_in, lookup

POOL = [f"user{i}@example.test" for i in range(600)] + [None]


@pytest.mark.parametrize("seed", range(5))
def test_index_in_equals_arrows_for_few_or_many_values(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        keys = pa.array([rng.choice(POOL) for _ in range(rng.randint(0, 3000))], pa.string())
        values = pa.array([rng.choice(POOL) for _ in range(rng.randint(0, 400))], pa.string())
        assert index_in(values, keys).to_pylist() == pc.index_in(values, value_set=keys).to_pylist()


@pytest.mark.parametrize("seed", range(3))
def test_lookup_through_a_large_shared_dictionary(seed: int) -> None:
    """A few readings whose dictionary is every owner: only the used entries are looked up."""
    rng = random.Random(seed)
    owners = pa.array([f"owner{i}" for i in range(2000)])
    for _ in range(30):
        indices = pa.array([rng.choice([None, *range(2000)]) for _ in range(rng.randint(0, 60))], pa.int32())
        column = pa.DictionaryArray.from_arrays(indices, owners)
        keys = pa.array([f"owner{rng.randint(0, 2500)}" for _ in range(rng.randint(0, 1500))])
        numbers = pa.array(range(len(keys)), pa.int32())
        expected = numbers.take(pc.index_in(column.cast(pa.string()), value_set=keys))
        assert lookup(column, keys, numbers).to_pylist() == expected.to_pylist()
