"""The NTRIP accounts room: one naming rule, tenancy, and what the caster's accounts accept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.errors import Conflict, Invalid, NotFound
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import Role
from parking.ntrip import service as ntrip
from parking.ntrip.accounts import DatabaseAccounts
from parking.ntrip.schemas import AccountKind
from tests.support import Client, unit


async def test_names_tenancy_and_what_the_caster_accepts(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        other = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Other")).id)
        driver = await identity.register_driver(ctx, "D", "+86 138 0000 0000")
        # one rule for names, whoever asks: ASCII letters, digits, '.', '_', '-'
        for bad in ("杨浦01", "BASE 1", "", "x" * 101):
            with pytest.raises(Invalid):
                await ntrip.create_mount(ctx, op, bad, "long-enough")
        with pytest.raises(Invalid):
            await ntrip.create_mount(ctx, op, "NEAREST", "long-enough")  # the caster's own
        with pytest.raises(Invalid):
            await ntrip.create_mount(ctx, op, "YP01", "short")
        await ntrip.create_mount(ctx, op, "YP01", "base-secret", "Yangpu")
        with pytest.raises(Conflict):
            await ntrip.create_mount(ctx, other, "YP01", "base-secret")
        # an operator's rovers reach only its own mounts
        with pytest.raises(NotFound):
            await ntrip.create_user(ctx, other, "r1", "rover-secret", ["YP01"])
        await ntrip.create_user(ctx, op, "r1", "rover-secret", ["YP01"])
        assert [m.name for m in await ntrip.mounts_of(ctx, other)] == []
        with pytest.raises(NotFound):
            await ntrip.delete(ctx, other, AccountKind.MOUNT, "YP01")
    accounts = DatabaseAccounts(client.app.state.beidou.sessionmaker)
    assert await accounts.source_allowed("YP01", None, "base-secret")
    assert not await accounts.source_allowed("YP01", None, "wrong-secret")
    assert await accounts.client_allowed("YP01", "r1", "rover-secret")
    assert not await accounts.client_allowed("TONGJI", "r1", "rover-secret")
    # a driver's app token opens NEAREST, and nothing else
    assert await accounts.client_allowed("NEAREST", "any", driver.token)
    assert not await accounts.client_allowed("YP01", "any", driver.token)
    assert [m.name for m in await accounts.mounts()] == ["YP01"]


async def test_rovers_arriving_together_share_one_lookup_and_one_scrypt(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caster restarting gets thousands of rovers at once: the requests naming one account
    share the account's lookup and the scrypt of their password while it runs, and still see a
    removed account from the next connection on."""
    from parking.ntrip import accounts as accounts_module

    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        await ntrip.create_mount(ctx, op, "YP02", "base-secret")
        await ntrip.create_user(ctx, op, "fleet", "rover-secret", ["YP02"])
    scrypts: list[str] = []
    real_verify = accounts_module.verify_password

    def counted(password: str, stored: str) -> bool:
        scrypts.append(password)
        return real_verify(password, stored)

    monkeypatch.setattr(accounts_module, "verify_password", counted)
    queries: list[str] = []
    real_mounts, real_user = accounts_module.repo.mounts, accounts_module.repo.user_named

    async def mounts_counted(session: Any, operator_id: Any = None) -> Any:
        queries.append("mounts")
        return await real_mounts(session, operator_id)

    async def user_counted(session: Any, name: str) -> Any:
        queries.append(f"user {name}")
        return await real_user(session, name)

    monkeypatch.setattr(accounts_module.repo, "mounts", mounts_counted)
    monkeypatch.setattr(accounts_module.repo, "user_named", user_counted)
    accounts = DatabaseAccounts(client.app.state.beidou.sessionmaker)
    listed = await asyncio.gather(*[accounts.mounts() for _ in range(50)])
    assert all([m.name for m in found] == ["YP02"] for found in listed)
    assert queries == ["mounts"]  # one query for the 50 that found the list stale at once
    right = [accounts.client_allowed("YP02", "fleet", "rover-secret") for _ in range(50)]
    wrong = [accounts.client_allowed("YP02", "fleet", "not-the-secret") for _ in range(50)]
    answers = await asyncio.gather(*right, *wrong)
    assert answers == [True] * 50 + [False] * 50
    assert sorted(scrypts) == ["not-the-secret", "rover-secret"]  # one scrypt per password
    assert queries == ["mounts", "user fleet"]  # one lookup of the account for all 100
    assert accounts._inflight == {}  # nothing left behind once answered
    async with unit(client) as ctx:
        await ntrip.delete(ctx, op, AccountKind.USER, "fleet")
    assert not await accounts.client_allowed("YP02", "fleet", "rover-secret")
