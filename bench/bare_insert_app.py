"""The baseline of bench_registration_throughput: FastAPI + asyncpg, one INSERT and one commit.

BARE_DSN=postgresql://postgres@127.0.0.1:5432/db uvicorn bench.bare_insert_app:app
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel


class Item(BaseModel):
    name: str


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["BARE_DSN"], min_size=5, max_size=10)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "create table if not exists items (id bigserial primary key, name text not null)"
        )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/items", status_code=201)
async def create_item(item: Item) -> dict[str, int]:
    async with app.state.pool.acquire() as conn, conn.transaction():
        item_id = await conn.fetchval(
            "insert into items (name) values ($1) returning id", item.name
        )
    return {"id": item_id}
