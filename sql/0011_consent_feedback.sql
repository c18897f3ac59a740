-- Training consent and feedback. A person may let FitSense learn from their coaching
-- (off until they opt in); only the answers of people whose consent is on when a dataset
-- is built reach it, anonymized. Feedback rates a plan version or one AI answer.

ALTER TABLE users
    ADD COLUMN training_consent            BOOLEAN NOT NULL DEFAULT false,
    -- NULL until the person first changes it.
    ADD COLUMN training_consent_changed_at TIMESTAMPTZ,
    ADD CONSTRAINT users_consent_has_time
        CHECK (NOT training_consent OR training_consent_changed_at IS NOT NULL);

-- Lets feedback reference an interaction together with its owner.
ALTER TABLE ai_interactions
    ADD CONSTRAINT ai_interactions_id_user_unique UNIQUE (id, user_id);

CREATE TABLE feedback (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id        UUID,
    interaction_id UUID,
    rating         TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment        TEXT CHECK (char_length(comment) BETWEEN 1 AND 1000),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT feedback_one_target CHECK (num_nonnulls(plan_id, interaction_id) = 1),
    -- The target is the same person's: nobody rates another user's plan or answer.
    CONSTRAINT feedback_own_plan FOREIGN KEY (plan_id, user_id)
        REFERENCES workout_plans (id, user_id) ON DELETE CASCADE,
    CONSTRAINT feedback_own_interaction FOREIGN KEY (interaction_id, user_id)
        REFERENCES ai_interactions (id, user_id) ON DELETE CASCADE
);
CREATE INDEX feedback_user_created_idx ON feedback (user_id, created_at);
CREATE INDEX feedback_created_idx ON feedback (created_at);
CREATE INDEX feedback_plan_idx ON feedback (plan_id) WHERE plan_id IS NOT NULL;
CREATE INDEX feedback_interaction_idx ON feedback (interaction_id) WHERE interaction_id IS NOT NULL;
