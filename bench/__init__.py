"""runtally benchmarks: measured figures next to the physical limits of the same run.

Run with ``make bench`` (``python -m bench``). Every benchmark starts its own private
redis-server and Postgres under a temporary folder, so figures never depend on (or
disturb) another stack. Benchmarks are not tests: they never fail on timing; they print
each figure with its target and the limit measured in the same run, and write
BENCHMARKS.md.
"""
