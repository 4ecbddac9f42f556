"""Prefect tasks: each reads its inputs, calls the pure rules, validates, writes and reports."""
