"""Bookings of a space (or a place in a garage) for a window: no double booking, whatever the
interleaving; check-in at the gate or by an RTK-fixed stay; no-shows released."""
