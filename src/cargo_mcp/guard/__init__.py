"""Client-side read-only SQL guard for Cargo's orchestration query endpoint.

``guard.sql`` imports sqlglot (≈0.3 s), so it is imported on first use, not at server start.
"""
