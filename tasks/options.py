"""Task options shared by every step: retries only for transient failures, no input hashing."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

from stedi.errors import TransientError


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry object-store timeouts and concurrent-commit conflicts; never bad input or failed checks."""
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


TASK_OPTIONS: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": [2, 10],
    "retry_condition_fn": retry_transient,
    "timeout_seconds": 3600,
}
