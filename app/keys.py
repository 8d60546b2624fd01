"""API keys: `pai_<id>_<secret>`. The id finds the row; only HMAC(pepper, secret) is stored.

Keys carry 256 bits of randomness, so a keyed fast hash is enough (a slow password hash
would only cost latency); the pepper lives in Vault, so a database dump alone cannot be
used to test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey

PREFIX = "pai"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: str
    plaintext: str  # shown once, to whoever created it


def hash_secret(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def generate(pepper: str) -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret, pepper), f"{PREFIX}_{key_id}_{secret}")


def split(presented: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def matches(secret: str, stored_hash: str, pepper: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)


async def store_hash(db: AsyncSession, key_id: str, secret_hash: str) -> None:
    await db.execute(update(ApiKey).where(ApiKey.id == key_id).values(secret_hash=secret_hash))
    await db.commit()
