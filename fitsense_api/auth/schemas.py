"""Wire schemas of accounts and sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Alex Doe"])]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, examples=["alex@example.com"])]
Password = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=128,
        description="8-128 characters.",
        examples=["correct horse battery staple"],
    ),
]


class SignupRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: Email
    password: Password


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    new_password: Password


class UserOut(msgspec.Struct):
    id: UUID
    name: str
    email: str
    created_at: datetime


class SessionOut(msgspec.Struct):
    """A bearer token: send it as ``Authorization: Bearer <token>``."""

    token: str
    token_type: str
    expires_at: datetime
    user: UserOut
