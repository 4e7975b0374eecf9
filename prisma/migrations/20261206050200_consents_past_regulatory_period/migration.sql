-- Consent evidence stays append-only, with one exception: the retention job deletes evidence
-- past the regulatory period (docs/data-retention.md). It says the period's start in its own
-- transaction (SET LOCAL credit.regulatory_retention_before); a row accepted before it may be
-- deleted then, and nothing else ever: updates, truncation and every other delete are refused.
CREATE OR REPLACE FUNCTION "acceptance_consents_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text := current_setting('credit.regulatory_retention_before', true);
BEGIN
    IF TG_OP = 'DELETE' AND before IS NOT NULL AND before <> '' AND OLD.accepted_at < before::timestamp THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'acceptance_consents is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
