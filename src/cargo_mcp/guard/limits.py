"""The guard's own bounds: what it refuses before or while checking, so no check can stall the server.

Cargo's SQL caps (result rows, rows read, columns, depth, time) are not the guard's: they live in api/sql.py.
"""

MAX_STATEMENT_BYTES = 262_144  # ClickHouse's max_query_size (256 KiB): longer text is refused before parsing
MAX_STATEMENT_TOKENS = 25_000  # more is refused before parsing: the slowest full check stays under a second
GUARD_DEADLINE_S = 5.0  # a check that has not finished by then is a refusal, never a stall
GENERATOR_MAX = 1_000_000  # elements of a range()/repeat()/… value, rows of a WITH FILL, slots of a timeSlots()
