"""Parking sessions (a stay of one plate in one lot, from the entry read to the exit read), what
they cost, and paying for them."""
