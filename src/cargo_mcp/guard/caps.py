"""Cargo's orchestration SQL caps (cargo-api.md §7.2), and the guard's own bounds."""

MAX_ROWS = 10_000  # result rows; more are truncated, not an error

MAX_STATEMENT_BYTES = 262_144  # ClickHouse's max_query_size (256 KiB): longer text is refused before parsing
MAX_STATEMENT_TOKENS = 25_000  # more is refused before parsing: the slowest full check stays under a second
GUARD_DEADLINE_S = 5.0  # a check that has not finished by then is a refusal, never a stall
GENERATOR_MAX = 1_000_000  # elements of a range()/repeat()/… value, rows of a WITH FILL, slots of a timeSlots()
