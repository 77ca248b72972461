"""Parking resource center: lots, spaces, tariffs, sessions, bookings."""
