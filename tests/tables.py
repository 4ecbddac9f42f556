"""Tiny inline tables for rule tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER


def customers(*rows: dict[str, Any]) -> pa.Table:
    base = dict.fromkeys(CUSTOMER.schema.names)
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=CUSTOMER.schema)


def readings(*rows: tuple[str, int]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"user": u, "timestamp": t, "x": 1.0, "y": 0.0, "z": -1.0} for u, t in rows],
        schema=ACCELEROMETER.schema,
    )


def steps(*rows: tuple[str, int]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"sensorReadingTime": t, "serialNumber": s, "distanceFromObject": 200} for s, t in rows],
        schema=STEP_TRAINER.schema,
    )
