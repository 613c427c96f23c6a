"""The /v1 router: every versioned endpoint, authenticated and strict about parameters.

Route modules define routers without a prefix; including one here gives its routes the
``/v1`` prefix, the error responses, the bearer-key check (``deps.reader``) and the
refusal of undeclared query parameters (``params.known_parameters``). Declare query
parameters on routes or their dependencies, never as dependencies of this router: the
known set is read from the route's own declarations.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from runtally.api.errors import ERROR_RESPONSES
from runtally.api.params import known_parameters
from runtally.api.routes import aggregates, alerts, runs

router = APIRouter(
    prefix="/v1", responses=ERROR_RESPONSES, dependencies=[Depends(known_parameters)]
)
router.include_router(aggregates.router)
router.include_router(runs.router)
router.include_router(alerts.router)
