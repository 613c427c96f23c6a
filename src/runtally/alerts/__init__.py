"""Alerts: rules over the exact read path, a pure state machine, signed webhooks.

``rules`` (what a rule says) → ``measure`` (its window through the API's read path) →
``states`` (ok/warn/alert/no_data; notify on change) → ``store``/``outbox`` (Postgres)
→ ``deliver`` (signed POSTs with back-off). ``engine.run_pass`` is one pass, run by the
scheduler's cron job and by ``runtally alerts check``.
"""
