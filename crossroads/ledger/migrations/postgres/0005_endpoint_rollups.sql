-- PostgreSQL only: the histogram merge the rollup UPSERT calls, `bins = crossroads_merge_bins(
-- bins, excluded.bins)`; on SQLite the same name is bins.merge_blobs, registered by the writer.
-- Same format (crossroads/ledger/bins.py: int32 LE first bin, then uint32 LE counts) and the
-- same result byte for byte. Why in the database rather than merged in Python: ON CONFLICT DO
-- UPDATE holds the row lock while it runs, so replicas writing the same bucket add their counts
-- without losing one another's, and the batch still costs one statement per row, not a SELECT
-- FOR UPDATE round trip first (which would also have to create missing rows race-free).
CREATE FUNCTION crossroads_merge_bins(stored BYTEA, added BYTEA) RETURNS BYTEA
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    s_n INT;
    a_n INT;
    s_first BIGINT;
    a_first BIGINT;
    lo BIGINT;
    width BIGINT;
    counts BIGINT[];
    i INT;
    merged TEXT := '';
    h TEXT;
BEGIN
    IF stored IS NULL THEN RETURN added; END IF;
    IF added IS NULL THEN RETURN stored; END IF;
    s_n := (length(stored) - 4) / 4;
    a_n := (length(added) - 4) / 4;
    IF s_n = 0 AND a_n = 0 THEN RETURN '\x00000000'::BYTEA; END IF;
    IF a_n = 0 THEN RETURN stored; END IF;
    IF s_n = 0 THEN RETURN added; END IF;
    s_first := get_byte(stored, 0)::BIGINT | (get_byte(stored, 1)::BIGINT << 8)
               | (get_byte(stored, 2)::BIGINT << 16) | (get_byte(stored, 3)::BIGINT << 24);
    a_first := get_byte(added, 0)::BIGINT | (get_byte(added, 1)::BIGINT << 8)
               | (get_byte(added, 2)::BIGINT << 16) | (get_byte(added, 3)::BIGINT << 24);
    IF s_first >= 2147483648 THEN s_first := s_first - 4294967296; END IF;
    IF a_first >= 2147483648 THEN a_first := a_first - 4294967296; END IF;
    lo := LEAST(s_first, a_first);
    width := GREATEST(s_first + s_n, a_first + a_n) - lo;
    counts := array_fill(0::BIGINT, ARRAY[width::INT]);
    FOR i IN 0 .. s_n - 1 LOOP
        counts[s_first - lo + i + 1] := counts[s_first - lo + i + 1]
            + (get_byte(stored, 4 + 4 * i)::BIGINT | (get_byte(stored, 5 + 4 * i)::BIGINT << 8)
               | (get_byte(stored, 6 + 4 * i)::BIGINT << 16)
               | (get_byte(stored, 7 + 4 * i)::BIGINT << 24));
    END LOOP;
    FOR i IN 0 .. a_n - 1 LOOP
        counts[a_first - lo + i + 1] := counts[a_first - lo + i + 1]
            + (get_byte(added, 4 + 4 * i)::BIGINT | (get_byte(added, 5 + 4 * i)::BIGINT << 8)
               | (get_byte(added, 6 + 4 * i)::BIGINT << 16)
               | (get_byte(added, 7 + 4 * i)::BIGINT << 24));
    END LOOP;
    -- (Shifts are parenthesised: PostgreSQL gives | and << the same precedence.)
    -- Little-endian hex of each 32-bit value; to_hex of a negative INT is its two's complement.
    h := lpad(to_hex(lo::INT), 8, '0');
    merged := substr(h, 7, 2) || substr(h, 5, 2) || substr(h, 3, 2) || substr(h, 1, 2);
    FOR i IN 1 .. width LOOP
        h := lpad(to_hex(counts[i]), 8, '0');
        merged := merged || substr(h, 7, 2) || substr(h, 5, 2) || substr(h, 3, 2) || substr(h, 1, 2);
    END LOOP;
    RETURN decode(merged, 'hex');
END
$$;
