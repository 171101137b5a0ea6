"""Failure inspection: scope SQL over spans/runs, message normalization, grouping and classification."""
