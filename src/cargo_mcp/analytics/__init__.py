"""Answers the API has no endpoint for, computed with our own read-only SQL over Cargo's tables (checked by the
same guard as execute_query): per-node durations, the window of runs each release served, a run's release."""
