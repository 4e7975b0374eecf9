-- Row ids ordered by time: UUID version 7 (RFC 9562). The first 48 bits are the Unix time in
-- milliseconds; the 12 after the version are the fraction of the millisecond (the RFC's "increased
-- clock precision": ids made in one millisecond still sort in the order they were made); the rest
-- are gen_random_uuid()'s random bits and variant. Rows inserted together sit together in their
-- primary key: its inserts fill the right edge instead of landing on a random page.
-- Measured on this machine (bench/README.md, Growth): 200,000 rows into a table of 10 million,
-- random ids read 139,000-141,000 index pages from disk and dirtied 141,000-143,000 (3.0-4.4 s);
-- these read 7-11 and dirtied 2,047 (1.8 s); the 10 million rows' primary key is 301 MB against 388.
-- The service's statements call it; src/domain/ids.ts makes the same kind of id in its code.
-- Ids already stored stay as they are.
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(substring(int8send(t.us / 1000) FROM 3)                      -- 48 bits: milliseconds
                || int2send((28672 + (t.us % 1000) * 4096 / 1000)::smallint) -- version 7, 12 bits: the millisecond's fraction
                || substring(uuid_send(gen_random_uuid()) FROM 9),           -- 64 bits: variant and random
                'hex')::uuid
    FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us) t
$$;
