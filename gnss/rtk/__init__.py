"""Carrier-phase positioning: RTK, DGNSS and single-point solutions from raw observations."""
