"""Typed names of the app-level dependencies handlers declare (see ``create_app``)."""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency

from fitsense_api.auth.security import CurrentUser

# A pooled connection for the request (``db.provide_connection``).
Connection = NamedDependency[asyncpg.Connection]
# The authenticated caller (``auth.security.provide_user``); declaring it requires a token.
User = NamedDependency[CurrentUser]
# The authenticated caller, looked up on a connection that is given back at once
# (``auth.security.provide_caller``): for handlers that must not hold one while they wait.
Caller = NamedDependency[CurrentUser]
