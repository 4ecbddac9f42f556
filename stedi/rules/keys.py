"""Vectorised key lookups shared by the rules (identities are normalised by stedi.identity)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.identity import normalise_email, normalise_serial

__all__ = ["first_per_key", "index_in", "lookup", "normalise_email", "normalise_serial"]


def lookup(
    column: pa.ChunkedArray | pa.Array, keys: pa.Array, values: pa.Array, normalise: bool = False
) -> pa.ChunkedArray:
    """values[keys.index(v)] for every v of `column` (null where absent).

    Works on the dictionary of each chunk, so normalising and hashing cost the number of distinct
    values (users, devices), not the number of readings.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = []
    for chunk in chunks:
        encoded = chunk.dictionary_encode() if not pa.types.is_dictionary(chunk.type) else chunk
        if len(encoded.dictionary) > 2 * len(encoded):  # a shared dictionary (every owner): its used part
            used = pc.unique(pc.drop_null(encoded.indices))
            encoded = pa.DictionaryArray.from_arrays(
                pc.index_in(encoded.indices, value_set=used), encoded.dictionary.take(used)
            )
        dictionary = encoded.dictionary
        if normalise:
            # Emails and serials normalise alike (stedi.identity), so one flag serves both.
            dictionary = normalise_email(dictionary)
        out.append(values.take(index_in(dictionary, keys)).take(encoded.indices))
    return pa.chunked_array(out, type=values.type)


def index_in(values: pa.Array, keys: pa.Array) -> pa.Array:
    """`pc.index_in(values, value_set=keys)`, also fast for a few values among many keys.

    Arrow hashes the whole value set on every call: with a day's new readings (a few hundred
    distinct users) against every customer, the few values are hashed and the keys probed
    against them instead, then only the keys found are indexed.
    """
    if len(values) * 8 >= len(keys):
        return pc.index_in(values, value_set=keys)
    found = pc.is_in(keys, value_set=values)
    places = pc.indices_nonzero(found)
    at = pc.index_in(values, value_set=keys.filter(found))
    return places.take(at).cast(pa.int32())


def first_per_key(table: pa.Table, key: str, order: list[tuple[str, str]]) -> pa.Table:
    """The first row of each `key` when rows are sorted by key, then `order` (nulls last)."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([(key, "ascending"), *order]) if order else table.sort_by(key)
    keys = ordered.column(key).combine_chunks()
    changed = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
    mask = pa.concat_arrays([pa.array([True]), pc.fill_null(changed, True)])
    return ordered.filter(mask)
