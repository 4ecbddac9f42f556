"""The two table-definition policies."""

from __future__ import annotations

from enum import StrEnum

from stedi.errors import InputError


class Policy(StrEnum):
    """`strict` is correct privacy; `udacity` reproduces the course rubric's definitions and counts."""

    STRICT = "strict"
    UDACITY = "udacity"

    @classmethod
    def parse(cls, value: str | Policy) -> Policy:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise InputError(f"unknown policy {value!r}: choose one of {choices}") from None
