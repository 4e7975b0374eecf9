-- Consent evidence keyed: an HMAC over the terms and the acceptance's facts, with the id of the
-- key (from the environment) that made it, so keys can rotate; the accepting token's id (its jti,
-- or the sha256 of the token) and issue time. Rows written before this carry none of them.
ALTER TABLE "acceptance_consents"
    ADD COLUMN "evidence_hmac" CHAR(64),
    ADD COLUMN "hmac_key_id" TEXT,
    ADD COLUMN "token_id" TEXT,
    ADD COLUMN "token_issued_at" TIMESTAMP(3);

-- Append-only: evidence is written once and never changed or removed by the service.
CREATE FUNCTION "acceptance_consents_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'acceptance_consents is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER "acceptance_consents_no_update_or_delete"
    BEFORE UPDATE OR DELETE ON "acceptance_consents"
    FOR EACH ROW EXECUTE FUNCTION "acceptance_consents_append_only"();

CREATE TRIGGER "acceptance_consents_no_truncate"
    BEFORE TRUNCATE ON "acceptance_consents"
    FOR EACH STATEMENT EXECUTE FUNCTION "acceptance_consents_append_only"();
