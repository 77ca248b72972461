"""Lots and their spaces: where they are, what they cost (tariffs), when private spaces are
shared, and what state a space is in."""
