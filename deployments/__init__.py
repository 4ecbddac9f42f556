"""What deploying needs beyond prefect.yaml: work pool and block registration (`python -m deployments.setup`)."""
