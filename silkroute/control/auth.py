"""Bearer tokens and roles. Tokens are random; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkroute.control.errors import ServiceError, forbidden
from silkroute.store.models import TokenRow


class Role(StrEnum):
    ADMIN = "admin"  # everything, including tenants and tokens
    OPERATOR = "operator"  # sites, every job, usage of every tenant
    TENANT = "tenant"  # its own jobs and usage only
    AGENT = "agent"  # one site's agent: that site's runs, through /v1/agent only


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    tenant: str | None = None
    site: str | None = None  # agent tokens: the one site they serve
    token_id: int | None = None  # the token's row (who may revoke it)

    @property
    def staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.OPERATOR)

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise forbidden(f"this needs the {allowed} role; the token has {self.role.value}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    session: Session,
    role: Role,
    tenant: str | None = None,
    label: str = "",
    site: str | None = None,
) -> str:
    """Create a token and store its hash; the token itself is returned once and never again."""
    token = f"sr_{secrets.token_urlsafe(32)}"
    session.add(
        TokenRow(
            token_hash=hash_token(token),
            role=role.value,
            tenant=tenant,
            label=label,
            created_at=time.time(),
            site=site,
        )
    )
    return token


class TokenCache:
    """Recently seen token hashes and their owners, so most requests skip a database read.

    Entries live `ttl_s` seconds: a token deleted from the store by other means stops working
    within that. A revocation through the API evicts its token at once (`revoke`), and bumps
    `generation` so that a lookup that read the token before the revocation committed cannot
    put it back (`put` with the generation read before the lookup).
    """

    def __init__(self, ttl_s: float = 30.0, size: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self.generation = 0
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, token_hash: str, principal: Principal, generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self.generation:
                return  # a revocation happened meanwhile: look it up again next time
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[token_hash] = (time.monotonic(), principal)

    def revoke(self, token_hash: str) -> None:
        with self._lock:
            self.generation += 1
            self._entries.pop(token_hash, None)


def parse_bearer(header: str | None) -> str:
    if not header:
        raise ServiceError(401, "unauthorised", "send `Authorization: Bearer <token>`")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(401, "unauthorised", "send `Authorization: Bearer <token>`")
    return token.strip()


def authenticate(session: Session, header: str | None) -> Principal:
    unauthorised = ServiceError(401, "unauthorised", "send `Authorization: Bearer <token>`")
    if not header:
        raise unauthorised
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorised
    row = session.scalar(select(TokenRow).where(TokenRow.token_hash == hash_token(token.strip())))
    if row is None or row.revoked_at is not None:
        raise ServiceError(401, "unauthorised", "unknown or revoked token")
    return Principal(Role(row.role), row.tenant, row.site, row.id)
