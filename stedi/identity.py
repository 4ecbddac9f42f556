"""How identities are normalised before they are compared or hashed: one definition, in Arrow.

Emails and device serials are matched trimmed and lower-cased everywhere (rules, subject ids,
tombstones, erasure). Python code that normalises a single value goes through the same Arrow
functions (on a one-element array), never `str.lower()`: the two disagree for some letters
(`"İ".lower()` is two code points, Arrow's `utf8_lower` gives `"i"`), which would give one person
two subject ids or let erasure miss a row.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def _normalise(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))


def normalise_email(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Emails trimmed of whitespace and lower-cased by Arrow's utf8 functions: the customer identity."""
    return _normalise(values)


def normalise_serial(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Device serials trimmed and lower-cased: serials match case-insensitively everywhere."""
    return _normalise(values)


def normalise_email_value(value: str) -> str:
    """`normalise_email` of one value (the same Arrow function, on a one-element array)."""
    return str(normalise_email(pa.array([value], pa.string()))[0].as_py())


def normalise_serial_value(value: str) -> str:
    """`normalise_serial` of one value (the same Arrow function, on a one-element array)."""
    return str(normalise_serial(pa.array([value], pa.string()))[0].as_py())
