"""``runtally reprice``: recompute stored costs from the current price table.

Pure parts: ``plan`` (what a run or a rollup row costs now, which runs are in scope)
and ``report`` (the per-model table). Edges: ``raw`` (raw runs in bounded, restartable
batches that re-dirty their hours), ``rollups`` (rollup rows past raw retention,
repriced from their own token sums), ``run`` (the order of the two, the lock, the
retention cutoff) and ``cli``.
"""
