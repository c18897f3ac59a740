"""API settings, read from the environment once when the app is built."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from fitsense_api.proxies import SETTING as SETTING_TRUSTED_PROXIES
from fitsense_api.proxies import parse_trusted_proxies
from fitsense_core.errors import ConfigurationError
from fitsense_core.settings import deployment_environment, env_float, env_int


@dataclass(frozen=True)
class ApiSettings:
    """Everything the API reads from the environment (besides the database, which
    ``fitsense_core.database.resolve_database`` chooses from ``FITSENSE_DATABASE_URL``).

    - ``FITSENSE_API_POOL_MIN`` / ``FITSENSE_API_POOL_MAX``: asyncpg pool size per worker
      (default 2 / 10).
    - ``FITSENSE_API_TOKEN_TTL_HOURS``: bearer token lifetime (default 720 = 30 days).
    - ``FITSENSE_API_MAX_BODY_BYTES``: largest request body accepted (default 1 MiB).
    - ``FITSENSE_API_CORS_ORIGINS``: comma-separated origins allowed by CORS (default none).
    - ``FITSENSE_API_LOGIN_MAX_FAILURES_PER_ACCOUNT`` / ``..._PER_CLIENT``: failed logins
      one client address may make at one account / in all in
      ``FITSENSE_API_LOGIN_WINDOW_MINUTES`` (default 5 / 20 in 15 minutes) before login
      answers it 429 (``auth.throttle``: other addresses are not affected).
    - ``FITSENSE_API_SIGNUP_MAX_PER_CLIENT`` / ``FITSENSE_API_SIGNUP_WINDOW_MINUTES``:
      signups (whatever their answer) one client address may make in the window (default
      20 in 60 minutes) before signup answers it 429 (``auth.signup_limit``).
    - ``FITSENSE_API_PASSWORD_HASH_MAX_CONCURRENT`` / ``..._MAX_WAITING``: argon2 hashes and
      checks a worker process runs at once, on threads of their own / lets wait (default
      2 / 16); beyond them signup and login answer 503 with Retry-After.
    - ``FITSENSE_API_TRUSTED_PROXIES``: comma-separated addresses or networks of the proxies
      whose ``X-Forwarded-For`` names the client (default none, in every environment: the
      client is the TCP peer); ``fitsense api`` passes them to uvicorn (``proxies``).
    - ``FITSENSE_METRICS_TOKEN``: the bearer token ``/metrics`` asks for (default none:
      ``/metrics`` is open in ``local`` and refused elsewhere; ``fitsense_api.metrics``).
    - ``FITSENSE_API_RETENTION_INTERVAL_S``: seconds between retention passes (default
      3600; one also runs at start-up). What they keep (``fitsense_api.retention``):
      ``FITSENSE_API_RETAIN_SESSIONS_DAYS`` (expired or revoked tokens, default 30),
      ``FITSENSE_API_RETAIN_ATTEMPTS_DAYS`` (login and signup attempts, default 30),
      ``FITSENSE_API_RETAIN_IDEMPOTENCY_DAYS`` (idempotency keys, default 7) and
      ``FITSENSE_API_RETAIN_JOBS_DAYS`` (finished plan jobs, default 90).
    - ``FITSENSE_API_LOG_LEVEL``: INFO by default; every line is one JSON object.
    - ``FITSENSE_API_PASSWORD_HASH``: ``argon2`` (default) or ``argon2-fast`` (the minimum
      cost argon2 allows; only for tests and benchmarks that create many accounts).
    - ``FITSENSE_API_AI_RATE_PER_MINUTE`` / ``FITSENSE_API_AI_DAILY_QUOTA``: AI requests
      (plans, updates, adaptations, coach answers) one person may make per minute / per
      24 hours (default 10 / 200); beyond them 429 with Retry-After.
    - ``FITSENSE_API_AI_MAX_CONCURRENT`` / ``FITSENSE_API_AI_MAX_WAITING``: model calls a
      worker process runs at once / lets wait for a turn (default 2 / 8); beyond them 503
      with Retry-After instead of an ever longer queue.
    - ``FITSENSE_API_AI_MAX_QUEUED_JOBS``: unfinished plan jobs of all users (default 64)
      before new ones are refused with 503.
    - ``FITSENSE_API_AI_MAX_QUEUED_JOBS_PER_USER``: unfinished plan jobs one person may
      have (default 3) before new ones are refused with 429.
    - ``FITSENSE_API_AI_JOB_WORKERS``: plan jobs each worker process runs at once (default
      1; 0 runs none: another process does the jobs).
    - ``FITSENSE_ENV``: ``local``, ``dev``, ``stage`` or ``prod`` (the ``env`` label of every
      log line; ``argon2-fast`` is refused in stage and prod).
    - ``FITSENSE_INFERENCE_USD_PER_1K_TOKENS``: estimated cost of 1,000 tokens read or
      written by the model (default 0: not estimated), for the ``cost_usd`` of inference log
      lines and ``fitsense_api_inference_cost_usd_total``.
    - ``FITSENSE_TRIAGE``: ``two-layer`` (default: the app does not start without a triage
      model that passed its gate) or ``rules-only`` (the regular-expression layer alone;
      see ``docs/triage.md``).
    - The model endpoint and client: ``FITSENSE_MODEL_URL``, ``FITSENSE_MODEL_API_KEY``,
      ``FITSENSE_MODEL_BACKEND``, ``FITSENSE_MODEL_TIMEOUT_S`` (``fitsense_serving``).
    """

    database_url: str = field(repr=False)  # may carry a password
    pool_min: int = 2
    pool_max: int = 10
    token_ttl_hours: int = 720
    max_body_bytes: int = 1 << 20
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    login_max_failures_per_account: int = 5
    login_max_failures_per_client: int = 20
    login_window_minutes: int = 15
    signup_max_per_client: int = 20
    signup_window_minutes: int = 60
    password_hash_max_concurrent: int = 2
    password_hash_max_waiting: int = 16
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    log_level: str = "INFO"
    password_hash: str = "argon2"
    ai_rate_per_minute: int = 10
    ai_daily_quota: int = 200
    ai_max_concurrent: int = 2
    ai_max_waiting: int = 8
    ai_max_queued_jobs: int = 64
    ai_max_queued_jobs_per_user: int = 3
    ai_job_workers: int = 1
    retention_interval_s: int = 3600
    retain_sessions_days: int = 30
    retain_attempts_days: int = 30
    retain_idempotency_days: int = 7
    retain_jobs_days: int = 90
    model_environ: dict[str, str] | None = field(default=None, repr=False)  # the model key
    metrics_token: str | None = field(default=None, repr=False)
    environment: str = "local"
    inference_usd_per_1k_tokens: float = 0.0

    @classmethod
    def from_env(cls, database_url: str, environ: dict[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        pool_min = env_int(env, "FITSENSE_API_POOL_MIN", 2, 1, 100)
        pool_max = env_int(env, "FITSENSE_API_POOL_MAX", 10, 1, 200)
        if pool_min > pool_max:
            raise ConfigurationError(
                f"FITSENSE_API_POOL_MIN ({pool_min}) exceeds FITSENSE_API_POOL_MAX ({pool_max})"
            )
        origins = tuple(
            o.strip() for o in env.get("FITSENSE_API_CORS_ORIGINS", "").split(",") if o.strip()
        )
        password_hash = env.get("FITSENSE_API_PASSWORD_HASH") or "argon2"
        if password_hash not in ("argon2", "argon2-fast"):
            raise ConfigurationError(
                f"FITSENSE_API_PASSWORD_HASH must be argon2 or argon2-fast, got {password_hash!r}"
            )
        environment = deployment_environment(env)
        if password_hash == "argon2-fast" and environment in ("stage", "prod"):
            raise ConfigurationError(
                f"FITSENSE_API_PASSWORD_HASH=argon2-fast is for tests; FITSENSE_ENV={environment} "
                "uses argon2"
            )
        level = (env.get("FITSENSE_API_LOG_LEVEL") or "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigurationError(f"FITSENSE_API_LOG_LEVEL {level!r} is not a log level")
        return cls(
            database_url=database_url,
            pool_min=pool_min,
            pool_max=pool_max,
            token_ttl_hours=env_int(env, "FITSENSE_API_TOKEN_TTL_HOURS", 720, 1, 24 * 366),
            max_body_bytes=env_int(env, "FITSENSE_API_MAX_BODY_BYTES", 1 << 20, 1024, 100 << 20),
            cors_origins=origins,
            login_max_failures_per_account=env_int(
                env, "FITSENSE_API_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, 1, 1000
            ),
            login_max_failures_per_client=env_int(
                env, "FITSENSE_API_LOGIN_MAX_FAILURES_PER_CLIENT", 20, 1, 10000
            ),
            login_window_minutes=env_int(env, "FITSENSE_API_LOGIN_WINDOW_MINUTES", 15, 1, 1440),
            signup_max_per_client=env_int(
                env, "FITSENSE_API_SIGNUP_MAX_PER_CLIENT", 20, 1, 100_000
            ),
            signup_window_minutes=env_int(env, "FITSENSE_API_SIGNUP_WINDOW_MINUTES", 60, 1, 1440),
            password_hash_max_concurrent=env_int(
                env, "FITSENSE_API_PASSWORD_HASH_MAX_CONCURRENT", 2, 1, 64
            ),
            password_hash_max_waiting=env_int(
                env, "FITSENSE_API_PASSWORD_HASH_MAX_WAITING", 16, 0, 10_000
            ),
            trusted_proxies=parse_trusted_proxies(env.get(SETTING_TRUSTED_PROXIES, "")),
            log_level=level,
            password_hash=password_hash,
            ai_rate_per_minute=env_int(env, "FITSENSE_API_AI_RATE_PER_MINUTE", 10, 1, 10000),
            ai_daily_quota=env_int(env, "FITSENSE_API_AI_DAILY_QUOTA", 200, 1, 1_000_000),
            ai_max_concurrent=env_int(env, "FITSENSE_API_AI_MAX_CONCURRENT", 2, 1, 64),
            ai_max_waiting=env_int(env, "FITSENSE_API_AI_MAX_WAITING", 8, 0, 1000),
            ai_max_queued_jobs=env_int(env, "FITSENSE_API_AI_MAX_QUEUED_JOBS", 64, 1, 100_000),
            ai_max_queued_jobs_per_user=env_int(
                env, "FITSENSE_API_AI_MAX_QUEUED_JOBS_PER_USER", 3, 1, 1000
            ),
            ai_job_workers=env_int(env, "FITSENSE_API_AI_JOB_WORKERS", 1, 0, 16),
            retention_interval_s=env_int(env, "FITSENSE_API_RETENTION_INTERVAL_S", 3600, 1, 86400),
            retain_sessions_days=env_int(env, "FITSENSE_API_RETAIN_SESSIONS_DAYS", 30, 1, 3660),
            retain_attempts_days=env_int(env, "FITSENSE_API_RETAIN_ATTEMPTS_DAYS", 30, 1, 3660),
            retain_idempotency_days=env_int(
                env, "FITSENSE_API_RETAIN_IDEMPOTENCY_DAYS", 7, 1, 3660
            ),
            retain_jobs_days=env_int(env, "FITSENSE_API_RETAIN_JOBS_DAYS", 90, 1, 3660),
            model_environ=None if environ is None else dict(environ),
            metrics_token=(env.get("FITSENSE_METRICS_TOKEN") or "").strip() or None,
            environment=environment,
            inference_usd_per_1k_tokens=env_float(
                env, "FITSENSE_INFERENCE_USD_PER_1K_TOKENS", 0.0, 0.0, 100.0
            ),
        )
