"""The ceiling peer: a bare FastAPI endpoint returning a constant, served like the real app.

Whatever uvicorn + FastAPI + the loopback can do on this machine with no work per request is the
most any of our endpoints can reach; the real endpoints are reported as a fraction of it.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/const")
async def const() -> dict[str, bool]:
    return {"ok": True}
