"""Capabilities monitoring took away from a serving version.

The promotion gate decides once, on the golden set, which capabilities a version may
serve (:mod:`fitsense_core.student.registry`). Live traffic can show otherwise: when a
capability's live quality falls clearly below its gate (``monitoring.capabilities``), the
monitoring run *suspends* it for that version. The API then answers that capability from
the knowledge-based coach, without asking the model, until a version passes again: a newly
promoted version starts with no suspension, and an operator may lift one
(``fitsense model resume``). Every suspension keeps its reason and the monitoring report
that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from fitsense_core.database import connect
from fitsense_core.student.registry import CAPABILITIES, RegistryError


@dataclass(frozen=True)
class Suspension:
    model_version: str
    capability: str
    reason: str
    report_id: int | None
    suspended_at: datetime


def suspend(
    conn: psycopg.Connection,
    version: str,
    capability: str,
    reason: str,
    report_id: int | None = None,
) -> bool:
    """Suspend ``capability`` of ``version``; False when it already was (the first
    reason stays)."""
    if capability not in CAPABILITIES:
        raise RegistryError(f"unknown capability {capability!r}: one of {', '.join(CAPABILITIES)}")
    row = conn.execute(
        "INSERT INTO capability_suspensions (model_version, capability, reason, report_id) "
        "VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (model_version, capability) WHERE lifted_at IS NULL DO NOTHING "
        "RETURNING id",
        (version, capability, reason, report_id),
    ).fetchone()
    return row is not None


def active(url: str, version: str) -> dict[str, Suspension]:
    """The open suspensions of ``version``, by capability."""
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT model_version, capability, reason, report_id, suspended_at "
            "FROM capability_suspensions WHERE model_version = %s AND lifted_at IS NULL",
            (version,),
        ).fetchall()
    return {r["capability"]: Suspension(**r) for r in rows}


def lift(url: str, version: str, capability: str, reason: str) -> bool:
    """Lift the open suspension of ``capability`` of ``version``; False when none was open."""
    if not reason.strip():
        raise RegistryError("say why the suspension is lifted")
    with connect(url) as conn, conn.transaction():
        row = conn.execute(
            "UPDATE capability_suspensions SET lifted_at = now(), lifted_reason = %s "
            "WHERE model_version = %s AND capability = %s AND lifted_at IS NULL RETURNING id",
            (reason, version, capability),
        ).fetchone()
    return row is not None
