"""DynamoDB stream (every write of a cart, before and after) → each store's daily figures.

The event source mapping runs with a tumbling window: Lambda hands each invocation the
window's state (the figures pending) and takes back the new one; the window's last
invocation (``isFinalInvokeForWindow``, or ``isWindowTerminatedEarly`` when Lambda cut it
short) adds them to the counters.  A failing last invocation raises, and Lambda retries it
until it succeeds (``service/figure_tally.py`` says why nothing is added twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from cartwatch.adapters.cart_table import attributes as attr
from cartwatch.adapters.cart_table.items import stored_from_item
from cartwatch.handlers.emf import log_metrics
from cartwatch.handlers.observability import capture_lambda_handler, logger, metrics
from cartwatch.service.figure_tally import Change, FigureTally, Pending, TallyReport


@logger.inject_lambda_context(clear_state=True)
@log_metrics(metrics)
@capture_lambda_handler
def handler(event: dict[str, Any], context: Any, *, tally: FigureTally | None = None) -> dict[str, Any]:
    if tally is None:
        from cartwatch.composition import composition_for

        tally = composition_for("figure_tally").figure_tally
    shard = str(event.get("shardId") or "")
    report = TallyReport()
    writes = _writes(event.get("Records") or [])
    pending = tally.fold(Pending.from_state(event.get("state")), writes, shard=shard, report=report)
    if event.get("isFinalInvokeForWindow") or event.get("isWindowTerminatedEarly"):
        tally.add(pending, shard=shard, report=report)
        pending = Pending()
    metrics.add_metric(name="TallyWritesFolded", unit=MetricUnit.Count, value=report.writes_folded)
    metrics.add_metric(name="TallyDaysAdded", unit=MetricUnit.Count, value=report.days_added)
    if report.unreadable:
        metrics.add_metric(name="TallyWritesUnreadable", unit=MetricUnit.Count, value=report.unreadable)
    if report.unreadable or report.days_added or report.days_already_added:
        logger.info(
            "figures tallied",
            extra={
                "folded": report.writes_folded,
                "unreadable": report.unreadable,
                "days_added": report.days_added,
                "days_already_added": report.days_already_added,
            },
        )
    # With a tumbling window Lambda requires the state in every answer (an answer without one
    # is a failed invocation).
    return {"state": pending.to_state(), "batchItemFailures": []}


def _writes(records: list[dict[str, Any]]) -> Iterator[tuple[str, Change | None]]:
    for record in records:
        stream = record.get("dynamodb") or {}
        sequence = str(stream.get("SequenceNumber", ""))
        if (stream.get("Keys") or {}).get(attr.SK, {}).get("S") != attr.STATE_SK:
            continue  # not a cart (the mapping's filter lets none through; a figure item, say)
        try:
            old, new = stream.get("OldImage"), stream.get("NewImage")
            yield sequence, (stored_from_item(old) if old else None, stored_from_item(new) if new else None)
        except (KeyError, ValueError, TypeError):
            logger.warning("unreadable cart image", extra={"sequence_number": sequence})
            yield sequence, None
