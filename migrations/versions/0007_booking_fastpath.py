"""booking fast path: one PostgreSQL function books a space in one round trip

Revision ID: 0007_booking_fastpath
Revises: 0006_ev_charging
Create Date: 2026-12-06 08:30:00

``beidou_book(...)`` does on the server what ``parking.bookings.service._create`` does in six
round trips: the Idempotency-Key replay, the plate's owner, the lot and its operator's
suspension, the price check and the exclusion-checked insert, trying free spaces in code order
(``ROUNDS`` x ``CANDIDATES``, passed in by the caller). Called outside a transaction it commits as
it returns, so the API answers 2xx after one round trip and after the commit.

The exclusion constraint ``ex_bookings_space_overlap`` stays the judge of double bookings: the
function inserts with ``ON CONFLICT DO NOTHING`` and moves to the next free space when the
constraint refuses the row, exactly as the ORM path does.

What stays in Python (one definition each): the window rules (the caller passes the problem it
found, answered in the same order as the ORM path), the tariff (the caller prices with the lot's
tariff it has seen and passes its md5; a lot whose tariff changed answers ``tariff`` with the new
text, nothing written), and the cases the function leaves to the ORM path (``fallback``, nothing
written): gate-counted garages (capacity under a lot lock) and spaces with shared windows.

PostgreSQL only: SQLite (the embedded default) keeps the ORM path.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_booking_fastpath"
down_revision: str | None = "0006_ev_charging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Live statuses ('confirmed', 'checked_in') are those of the exclusion constraint (0001).
BOOK = """
CREATE OR REPLACE FUNCTION beidou_book(
    p_id uuid,
    p_driver uuid,
    p_lot uuid,
    p_space uuid,
    p_space_kind text,
    p_plate text,
    p_start timestamptz,
    p_end timestamptz,
    p_key text,
    p_fingerprint text,
    p_now timestamptz,
    p_window_problem text,
    p_starts_now boolean,
    p_fallback_kinds text[],
    p_tariff_md5 text,
    p_price integer,
    p_rounds integer,
    p_candidates integer,
    OUT o_outcome text,
    OUT o_id uuid,
    OUT o_lot_id uuid,
    OUT o_space_id uuid,
    OUT o_plate text,
    OUT o_start timestamptz,
    OUT o_end timestamptz,
    OUT o_status text,
    OUT o_price_fen integer,
    OUT o_cancel_fee_fen integer,
    OUT o_session_id uuid,
    OUT o_fingerprint text,
    OUT o_created_at timestamptz,
    OUT o_tariff text
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_operator uuid;
    v_kind text;
    v_tariff text;
    v_space record;
    v_candidates refcursor;
    v_any boolean;
    v_inserted uuid;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT b.id, b.lot_id, b.space_id, b.plate, b.start_ts, b.end_ts, b.status, b.price_fen,
               b.cancel_fee_fen, b.session_id, b.idempotency_fingerprint, b.created_at
          INTO o_id, o_lot_id, o_space_id, o_plate, o_start, o_end, o_status, o_price_fen,
               o_cancel_fee_fen, o_session_id, o_fingerprint, o_created_at
          FROM bookings b WHERE b.driver_id = p_driver AND b.idempotency_key = p_key;
        IF FOUND THEN
            o_outcome := 'existing';
            RETURN;
        END IF;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM plates pl WHERE pl.plate = p_plate AND pl.driver_id = p_driver) THEN
        o_outcome := 'plate_not_yours';
        RETURN;
    END IF;
    IF p_window_problem IS NOT NULL THEN
        o_outcome := p_window_problem;
        RETURN;
    END IF;
    SELECT l.operator_id, l.kind, l.tariff::text INTO v_operator, v_kind, v_tariff
      FROM lots l WHERE l.id = p_lot;
    IF NOT FOUND THEN
        o_outcome := 'lot_not_found';
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM operators o WHERE o.id = v_operator AND o.status = 'suspended') THEN
        o_outcome := 'lot_suspended';
        RETURN;
    END IF;
    IF v_kind = ANY (p_fallback_kinds) THEN
        o_outcome := 'fallback';
        RETURN;
    END IF;
    IF p_tariff_md5 IS DISTINCT FROM md5(v_tariff) THEN
        o_outcome := 'tariff';
        o_tariff := v_tariff;
        RETURN;
    END IF;
    IF p_space IS NOT NULL THEN
        SELECT (json_typeof(s.shared_windows) = 'array' AND json_array_length(s.shared_windows) > 0)
               AS shared
          INTO v_space FROM spaces s WHERE s.id = p_space AND s.lot_id = p_lot;
        IF NOT FOUND THEN
            o_outcome := 'space_not_found';
            RETURN;
        END IF;
        IF v_space.shared THEN
            o_outcome := 'fallback';
            RETURN;
        END IF;
    END IF;
    FOR v_round IN 1..p_rounds LOOP
        v_any := false;
        -- a cursor fetched row by row: each free space costs its overlap probe only when tried
        OPEN v_candidates FOR
            SELECT s.id,
                   (json_typeof(s.shared_windows) = 'array' AND json_array_length(s.shared_windows) > 0)
                   AS shared
              FROM spaces s
             WHERE s.lot_id = p_lot AND s.bookable AND NOT s.out_of_service
               AND (p_space IS NULL OR s.id = p_space)
               AND (p_space_kind IS NULL OR s.kind = p_space_kind)
               AND (NOT p_starts_now OR NOT s.occupied)
               AND NOT EXISTS (
                   SELECT 1 FROM bookings b
                    WHERE b.space_id = s.id AND b.status IN ('confirmed', 'checked_in')
                      AND b.start_ts < p_end AND b.end_ts > p_start)
             ORDER BY s.code
             LIMIT p_candidates;
        LOOP
            FETCH v_candidates INTO v_space;
            EXIT WHEN NOT FOUND;
            v_any := true;
            IF v_space.shared THEN  -- its windows are checked in Python
                o_outcome := 'fallback';
                CLOSE v_candidates;
                RETURN;
            END IF;
            v_inserted := NULL;
            INSERT INTO bookings (id, driver_id, lot_id, space_id, plate, start_ts, end_ts, status,
                                  price_fen, cancel_fee_fen, idempotency_key, idempotency_fingerprint,
                                  created_at)
            VALUES (p_id, p_driver, p_lot, v_space.id, p_plate, p_start, p_end, 'confirmed',
                    p_price, 0, p_key, p_fingerprint, p_now)
            ON CONFLICT DO NOTHING
            RETURNING bookings.id INTO v_inserted;
            IF v_inserted IS NOT NULL THEN
                o_outcome := 'created';
                o_space_id := v_space.id;
                CLOSE v_candidates;
                RETURN;
            END IF;
            IF p_key IS NOT NULL THEN  -- the same key won meanwhile: its booking is the answer
                SELECT b.id, b.lot_id, b.space_id, b.plate, b.start_ts, b.end_ts, b.status,
                       b.price_fen, b.cancel_fee_fen, b.session_id, b.idempotency_fingerprint,
                       b.created_at
                  INTO o_id, o_lot_id, o_space_id, o_plate, o_start, o_end, o_status, o_price_fen,
                       o_cancel_fee_fen, o_session_id, o_fingerprint, o_created_at
                  FROM bookings b WHERE b.driver_id = p_driver AND b.idempotency_key = p_key;
                IF FOUND THEN
                    o_outcome := 'existing';
                    CLOSE v_candidates;
                    RETURN;
                END IF;
            END IF;
            -- otherwise a concurrent booking took this space first: try the next one
        END LOOP;
        CLOSE v_candidates;
        EXIT WHEN NOT v_any;
    END LOOP;
    o_outcome := 'no_space';
END
$fn$
"""

SIGNATURE = (
    "beidou_book(uuid, uuid, uuid, uuid, text, text, timestamptz, timestamptz, text, text, "
    "timestamptz, text, boolean, text[], text, integer, integer, integer)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BOOK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
