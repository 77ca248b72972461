"""Operators' views over time: occupancy per bucket, revenue per lot and day."""
