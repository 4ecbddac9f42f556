"""Prefect flows: they only wire tasks together and pass parameters."""
