"""Receivers' positions: fixes smoothed into thinned tracks, latest positions, and RTK-fixed stays
in a space turned into occupancy evidence and booking check-ins."""
