"""Signup, login, logout (of this session or all), the caller's account, its password and
its deletion."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import CacheControlHeader, State
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from fitsense_api.auth import services
from fitsense_api.auth.schemas import (
    LoginRequest,
    PasswordChange,
    SessionOut,
    SignupRequest,
    UserOut,
)
from fitsense_api.deps import Caller, Connection, User
from fitsense_api.openapi import BEARER


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# An answer that carries a bearer token is kept by no cache.
NO_STORE = CacheControlHeader(no_store=True)


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]

    @post(
        "/signup",
        operation_id="signup",
        status_code=HTTP_201_CREATED,
        cache_control=NO_STORE,
        summary="Create an account and a first session",
        description="The email is normalized (trimmed, lower-cased); the password is stored "
        "as an argon2id hash. 409 when the email is taken (see docs/api.md, Signup). "
        "Signups are limited per client address (429 with Retry-After); 503 with "
        "Retry-After while too many password hashes are running.",
    )
    async def signup(
        self, data: JSONBody[SignupRequest], request: Request, state: State
    ) -> SessionOut:
        return await services.signup(
            state.pool,
            state.passwords,
            data.name,
            data.email,
            data.password,
            client_address(request),
            state.settings,
        )

    @post(
        "/login",
        operation_id="login",
        status_code=HTTP_200_OK,
        cache_control=NO_STORE,
        summary="Exchange email and password for a bearer token",
        description="Failed attempts are limited per client address, and per account from "
        "that address (a guesser elsewhere cannot lock the owner out); past a limit the "
        "answer is 429 with Retry-After, before the password is checked. 503 with "
        "Retry-After while too many password checks are running.",
    )
    async def login(
        self, data: JSONBody[LoginRequest], request: Request, state: State
    ) -> SessionOut:
        return await services.login(
            state.pool,
            state.passwords,
            data.email,
            data.password,
            client_address(request),
            state.settings,
        )

    @post(
        "/logout",
        operation_id="logout",
        status_code=HTTP_204_NO_CONTENT,
        summary="Revoke the token this request carries",
        security=BEARER,
    )
    async def logout(self, user: User, connection: Connection) -> None:
        await services.logout(connection, user.token_id)

    @post(
        "/logout-all",
        operation_id="logoutAll",
        status_code=HTTP_204_NO_CONTENT,
        summary="Revoke every token of the caller, this one included",
        description="Signs the person out on every device (a lost phone, a shared computer).",
        security=BEARER,
    )
    async def logout_all(self, user: User, connection: Connection) -> None:
        await services.logout_all(connection, user.id)


class MeController(Controller):
    path = "/me"
    tags = ["accounts"]
    security = BEARER

    @get("/", operation_id="getMe", summary="The caller's account")
    async def me(self, user: User, connection: Connection) -> UserOut:
        return await services.get_user(connection, user.id)

    @put(
        "/password",
        operation_id="changePassword",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change the password; every other session ends",
        description="403 when `current_password` is wrong; wrong guesses are limited as "
        "failed logins are (429 with Retry-After). The token of this request stays valid; "
        "every other token of the person is revoked.",
    )
    async def change_password(
        self, data: JSONBody[PasswordChange], caller: Caller, request: Request, state: State
    ) -> None:
        await services.change_password(
            state.pool,
            state.passwords,
            caller,
            data.current_password,
            data.new_password,
            client_address(request),
            state.settings,
        )

    @delete(
        "/",
        operation_id="deleteMe",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete the account and everything it owns",
        description="Profile, plans, workouts, signals, tokens and AI interactions are "
        "deleted with it (ON DELETE CASCADE).",
    )
    async def delete_me(self, user: User, connection: Connection) -> None:
        await services.delete_account(connection, user.id)
