"""Passwords: argon2id hashes, computed on a bounded pool of threads of their own.

Each argon2 hash or check takes 64 MiB and tens of milliseconds of a core. They run on
``max_concurrent`` threads reserved for them (not the default pool the rest of the app
shares), with at most ``max_waiting`` more waiting for a thread; a signup or login beyond
that is answered 503 with Retry-After at once, so a burst cannot take the process's
memory or queue without end."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar import Litestar

from fitsense_api.errors import Unavailable
from fitsense_api.observability import note_rate_limit
from fitsense_api.settings import ApiSettings

T = TypeVar("T")


def hasher(kind: str) -> PasswordHasher:
    if kind == "argon2-fast":
        # The lowest cost argon2 accepts: only for tests and benchmarks (settings say so).
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


class Passwords:
    """Hash and check passwords of one kind (``argon2`` or ``argon2-fast``), at most
    ``max_concurrent`` at once and ``max_waiting`` more waiting in this process."""

    def __init__(self, kind: str, max_concurrent: int, max_waiting: int) -> None:
        self.kind = kind
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self._hasher = hasher(kind)
        self._threads = ThreadPoolExecutor(max_concurrent, thread_name_prefix="argon2")
        self._admitted = 0
        self._dummy_hash: str | None = None

    def has_room(self) -> bool:
        return self._admitted < self.max_concurrent + self.max_waiting

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on one of the password threads, or 503 when no place is free."""
        if not self.has_room():
            note_rate_limit("password_hashing")
            raise Unavailable(
                "too many password checks are running; try again shortly",
                headers={"Retry-After": "1"},
            )
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)
        finally:
            self._admitted -= 1

    async def hash(self, password: str) -> str:
        return await self.run(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self.run(self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """The hash was made with other argon2 parameters than this kind's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def burn_verification(self) -> None:
        """Spend the time of a real check, so an unknown email answers as slowly as a
        known one."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_hex(16))
        await self.verify(self._dummy_hash, "not-the-password")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def passwords_lifespan(settings: ApiSettings):
    """Lifespan: the process's :class:`Passwords` as ``app.state.passwords``."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        passwords = Passwords(
            settings.password_hash,
            settings.password_hash_max_concurrent,
            settings.password_hash_max_waiting,
        )
        app.state.passwords = passwords
        try:
            yield
        finally:
            passwords.close()

    return lifespan
