"""STEDI Human Balance lakehouse: pure rules, ingest parsing and storage used by the Prefect flows."""

from __future__ import annotations

__version__ = "0.1.0"
