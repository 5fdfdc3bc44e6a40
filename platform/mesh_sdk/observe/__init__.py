"""The observation port: what a product says about itself (observations, metrics, quality checks) and
its OpenLineage run events."""
