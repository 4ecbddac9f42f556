"""One small lakehouse built by the real flow, shared by the query, catalog and engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.generate import GeneratorSpec, generate

_BUILT: dict[str, Path] = {}


def built_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lakehouse root of one strict run on generated data (built once per session; do not modify)."""
    if "lake" not in _BUILT:
        from flows.stedi_lakehouse import stedi_lakehouse

        root = tmp_path_factory.mktemp("built")
        generate(root / "landing", GeneratorSpec(customers=60, seed=5, files=2))
        stedi_lakehouse(landing=str(root / "landing"), lakehouse=str(root / "lake"))
        _BUILT["lake"] = root / "lake"
    return _BUILT["lake"]
