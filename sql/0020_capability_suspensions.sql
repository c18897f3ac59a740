-- Capabilities monitoring took away from a serving version: when a capability's live
-- quality falls below its gate, the API answers it from the knowledge-based coach until a
-- version passes again (fitsense_core/student/suspensions.py). lifted_at is set when an
-- operator lifts one; a newly promoted version starts with none.

CREATE TABLE capability_suspensions (
    id            BIGSERIAL PRIMARY KEY,
    model_version TEXT NOT NULL REFERENCES model_versions (version) ON DELETE CASCADE,
    capability    TEXT NOT NULL
                  CHECK (capability IN ('plan_creation', 'plan_update', 'plan_adaptation',
                                        'coach_reply')),
    reason        TEXT NOT NULL,
    report_id     BIGINT REFERENCES monitoring_reports (id) ON DELETE SET NULL,
    suspended_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    lifted_at     TIMESTAMPTZ,
    lifted_reason TEXT,
    CHECK ((lifted_at IS NULL) = (lifted_reason IS NULL))
);
-- At most one open suspension per version and capability.
CREATE UNIQUE INDEX capability_suspensions_open_idx
    ON capability_suspensions (model_version, capability) WHERE lifted_at IS NULL;
