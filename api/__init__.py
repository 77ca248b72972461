"""Composition root: the FastAPI app, its routers and the beidou CLI."""
