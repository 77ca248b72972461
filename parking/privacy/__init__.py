"""Retention: plates in clear only as long as the operation needs them."""
