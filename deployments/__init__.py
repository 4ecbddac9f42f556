"""What deploying needs beyond prefect.yaml: work pool and blocks (`python -m deployments.setup`)."""
