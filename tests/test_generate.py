"""The generator is deterministic for a seed and shaped like the course data."""

from __future__ import annotations

from pathlib import Path

from stedi.generate import GeneratorSpec, generate
from tests.expected import records


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", GeneratorSpec(customers=50, seed=1))
    generate(tmp_path / "b", GeneratorSpec(customers=50, seed=1))
    generate(tmp_path / "c", GeneratorSpec(customers=50, seed=2))
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert tree(tmp_path / "a").values() != tree(tmp_path / "c").values()


def test_shape_like_the_course_data(tmp_path: Path) -> None:
    stats = generate(tmp_path, GeneratorSpec(customers=400, seed=5, files=3))
    assert len(list((tmp_path / "accelerometer" / "landing").glob("*.json"))) == 3
    customers = records(tmp_path, "customer")
    assert stats.customer_records == len(customers) > 400  # some customers have a newer record
    consenting = sum(1 for c in customers if c.get("shareWithResearchAsOfDate"))
    assert 0.35 < consenting / len(customers) < 0.65
    readings = records(tmp_path, "accelerometer")
    per_time = len(readings) / len({(r["user"], r["timestamp"]) for r in readings})
    assert 2.5 < per_time < 3.5
    step_times = {s["sensorReadingTime"] for s in records(tmp_path, "step_trainer")}
    assert {r["timestamp"] for r in readings} <= step_times
