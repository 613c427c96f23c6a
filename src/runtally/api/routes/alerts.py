"""/v1/alerts (included by ``routes.v1``): create, list, read, change and delete alert
rules; a rule's deliveries.

The project comes from the bearer key; a rule of another project is answered 404 as
if it did not exist. Writes run in one read-write transaction per request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import ValidationError

from runtally.alerts import outbox, store
from runtally.alerts.rules import RuleSpec
from runtally.alerts.schemas import (
    CreatedRule,
    DeliveryLog,
    RuleList,
    RuleOut,
    delivery_out,
    describe,
    merged_spec,
    rule_out,
)
from runtally.api.deps import Reader, writer
from runtally.api.errors import ERROR_RESPONSES, ApiError, invalid

router = APIRouter(
    prefix="/alerts",
    tags=["alerts"],
    responses={404: ERROR_RESPONSES[422] | {"description": "no such rule"}},
)


WriterDep = Annotated[Reader, Depends(writer)]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="rule id")]


def _missing(rule_id: int) -> ApiError:
    return ApiError(404, f"no alert rule {rule_id} in this project")


async def _found(w: Reader, rule_id: int) -> store.Rule:
    rule = await store.get_rule(w.conn, w.project, rule_id)
    if rule is None:
        raise _missing(rule_id)
    return rule


async def _out(w: Reader, rule: store.Rule) -> RuleOut:
    states = await store.states_of(w.conn, [rule.id])
    return RuleOut(**rule_out(rule, states))


@router.post("", status_code=201, response_model=CreatedRule)
async def create(w: WriterDep, spec: RuleSpec) -> CreatedRule:
    """Create a rule; the answer carries its id and webhook signing ``secret`` (shown once)."""
    rule = await store.create_rule(w.conn, w.project, spec)
    return CreatedRule(**rule_out(rule, []), secret=rule.secret)


@router.get("", response_model=RuleList)
async def list_rules(w: WriterDep) -> RuleList:
    """Every rule of the key's project with its current states."""
    rules = await store.list_rules(w.conn, w.project)
    states = await store.states_of(w.conn, [r.id for r in rules])
    return RuleList(project=w.project, rules=[RuleOut(**rule_out(r, states)) for r in rules])


@router.get("/{rule_id}", response_model=RuleOut)
async def get(w: WriterDep, rule_id: RuleId) -> RuleOut:
    """One rule with its current states."""
    return await _out(w, await _found(w, rule_id))


@router.patch("/{rule_id}", response_model=RuleOut)
async def patch(
    w: WriterDep,
    rule_id: RuleId,
    changes: Annotated[dict[str, Any], Body(description="fields to replace")],
) -> RuleOut:
    """Replace the given fields (``filters`` as a whole); the result must be a valid rule."""
    rule = await _found(w, rule_id)
    try:
        spec = merged_spec(rule.spec, changes)
    except ValidationError as exc:
        raise invalid(describe(exc)) from None
    updated = await store.update_rule(w.conn, w.project, rule_id, spec)
    if updated is None:
        raise _missing(rule_id)
    return await _out(w, updated)


@router.delete("/{rule_id}", status_code=204, response_class=Response)
async def delete(w: WriterDep, rule_id: RuleId) -> Response:
    """Delete a rule with its states and delivery log."""
    if not await store.delete_rule(w.conn, w.project, rule_id):
        raise _missing(rule_id)
    return Response(status_code=204)


@router.get("/{rule_id}/deliveries", response_model=DeliveryLog)
async def deliveries(
    w: WriterDep,
    rule_id: RuleId,
    limit: Annotated[int, Query(ge=1, le=500, description="newest first")] = 50,
) -> DeliveryLog:
    """The rule's notifications, newest first: payload, status, attempts, last error."""
    await _found(w, rule_id)
    rows = await outbox.log(w.conn, rule_id, limit)
    return DeliveryLog(rule_id=rule_id, deliveries=[delivery_out(r) for r in rows])
