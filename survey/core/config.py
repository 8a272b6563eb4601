"""Configuration: defaults here, then instance/config.py, then the environment.

Every setting an operator may need has a default that works on a laptop; production
only has to set SECRET_KEY, DATABASE_URL and PUBLIC_BASE_URL (see the README).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-insecure-change-me"


class InsecureConfigError(RuntimeError):
    """Raised at start-up when production would run with a known secret key."""


def defaults(instance_path: str) -> dict[str, Any]:
    return {
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(instance_path) / "survey.sqlite"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # A streaming replica of the primary for the pages that only read figures
        # (survey/web/replica.py); empty: every page reads the primary. A page falls back
        # to the primary when the replica is further behind than the lag bound, and for
        # the retry time after it was found unreachable.
        "DATABASE_READ_URL": "",
        "READ_REPLICA_MAX_LAG_SECONDS": 30,
        "READ_REPLICA_RETRY_SECONDS": 30,
        # Empty: http://HOST:PORT (what `make run HOST=... PORT=...` serves on), so that
        # QR codes and printed links of a local run point where it listens.
        "PUBLIC_BASE_URL": "",
        "HOST": "127.0.0.1",
        "PORT": 5000,
        "TIMEZONE": "Asia/Jakarta",
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Jakarta",
        "LANGUAGES": ("id", "en"),
        "WTF_CSRF_TIME_LIMIT": None,  # the page may sit open at a desk for hours
        # memory:// counts per process: exact with one process (make run); several
        # workers or servers need a shared store (redis://...), or gunicorn refuses to
        # start (gunicorn.conf.py) unless ALLOW_PER_PROCESS_LIMITS says it is meant.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,  # the store down: limits fail open (logged)
        "ALLOW_PER_PROCESS_LIMITS": False,
        "TRUSTED_PROXIES": 0,  # reverse proxies in front (nginx: 1); their X-Forwarded-For
        "MAX_CONTENT_LENGTH": 64 * 1024,  # a survey post is a few kilobytes
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": None,  # None: secure whenever PUBLIC_BASE_URL is https
        "REMEMBER_COOKIE_SECURE": None,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        # Citizen survey
        "SURVEY_COOLDOWN_MINUTES": 30,
        "SURVEY_MIN_FILL_SECONDS": 8,
        "SURVEY_BURST_LIMIT": 20,  # responses per desk ...
        "SURVEY_IMPORT_MAX_ROWS": 100_000,  # per CSV file: ~7 s to check and store
        "SURVEY_BURST_WINDOW_MINUTES": 5,  # ... within this window before flagging
        # The same answers at one desk more often than this within the window: flagged.
        "SURVEY_PATTERN_LIMIT": 5,
        "SURVEY_PATTERN_WINDOW_MINUTES": 10,
        "SUBMIT_RATE_LIMIT": "120 per minute",  # per client address; an office shares one
        "TICKET_TTL_HOURS": 24,
        # Offline kiosk: responses per sync request, how old a kept response may be when
        # it arrives, and requests per minute from one tablet.
        "SURVEY_SYNC_MAX_BATCH": 25,
        "SURVEY_SYNC_MAX_AGE_DAYS": 30,
        "SURVEY_SYNC_RATE_LIMIT": "120 per minute",
        # An unfinished form on a kiosk goes back to its start screen after this.
        "SURVEY_KIOSK_IDLE_SECONDS": 90,
        # Public infographic images and PDFs drawn per minute for one client address.
        "INFOGRAPHIC_RATE_LIMIT": "30 per minute",
        # Dashboard figures of sealed (closed) periods kept per process; 0 keeps none.
        "SURVEY_FIGURES_CACHE_SIZE": 32,
        "LAPOR_URL": "https://www.lapor.go.id",
    }


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("1", "0", "true", "false", "yes", "no"):
        raise ValueError(raw)
    return value in ("1", "true", "yes")


# Environment variables read on top of the file configuration, with their parsers.
ENVIRONMENT: dict[str, Any] = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "DATABASE_READ_URL": str,
    "READ_REPLICA_MAX_LAG_SECONDS": int,
    "READ_REPLICA_RETRY_SECONDS": int,
    "PUBLIC_BASE_URL": str,
    "HOST": str,
    "PORT": int,
    "TIMEZONE": str,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_KEY_PREFIX": str,  # several installations sharing one Redis
    "ALLOW_PER_PROCESS_LIMITS": boolean,
    "TRUSTED_PROXIES": int,
    "SURVEY_COOLDOWN_MINUTES": int,
    "SURVEY_MIN_FILL_SECONDS": int,
    "SURVEY_BURST_LIMIT": int,
    "SURVEY_IMPORT_MAX_ROWS": int,
    "SURVEY_PATTERN_LIMIT": int,
    "SURVEY_PATTERN_WINDOW_MINUTES": int,
    "SURVEY_BURST_WINDOW_MINUTES": int,
    "SUBMIT_RATE_LIMIT": str,
    "TICKET_TTL_HOURS": int,
    "SURVEY_SYNC_MAX_BATCH": int,
    "SURVEY_SYNC_MAX_AGE_DAYS": int,
    "SURVEY_SYNC_RATE_LIMIT": str,
    "SURVEY_KIOSK_IDLE_SECONDS": int,
    "INFOGRAPHIC_RATE_LIMIT": str,
    "SURVEY_FIGURES_CACHE_SIZE": int,
}


def per_process_limits_refused(config: dict[str, Any], workers: int) -> str | None:
    """Why several worker processes must not start with per-process rate limits (each
    would count on its own: 4 workers let 4 times the limit through), or None."""
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if workers > 1 and uri.startswith("memory://") and not config.get(
            "ALLOW_PER_PROCESS_LIMITS"):
        return (f"{workers} worker processes with RATELIMIT_STORAGE_URI={uri!r}: every "
                "process would count the rate limits on its own. Set RATELIMIT_STORAGE_URI "
                "to a shared store (e.g. redis://127.0.0.1:6379), run one process with "
                "threads (--workers 1 --threads 8), or set ALLOW_PER_PROCESS_LIMITS=1.")
    return None


def from_environment(environ: os._Environ | dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, parse in ENVIRONMENT.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[name] = parse(raw)
        except ValueError:
            raise InsecureConfigError(
                f"environment variable {name}={raw!r} is not a valid {parse.__name__}"
            ) from None
    if "DATABASE_URL" in values:
        values["SQLALCHEMY_DATABASE_URI"] = database_uri(values.pop("DATABASE_URL"))
    return values


def public_base_url(config: dict[str, Any]) -> str:
    """The address printed and encoded in QR codes, posters, tickets and the badge code:
    PUBLIC_BASE_URL when set, else where the server listens (HOST and PORT, as `make run`
    passes them); a wildcard host is reached locally as 127.0.0.1."""
    configured = str(config.get("PUBLIC_BASE_URL") or "").strip()
    if configured:
        return configured.rstrip("/")
    host = str(config.get("HOST") or "127.0.0.1").strip()
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{int(config.get('PORT') or 5000)}"


def database_uri(url: str) -> str:
    """Accept the usual postgres:// spellings and select the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def check_secret_key(config: dict[str, Any], *, debug: bool, testing: bool) -> None:
    if debug or testing:
        return
    key = config.get("SECRET_KEY")
    if not key or key == DEFAULT_SECRET_KEY or len(str(key)) < 16:
        raise InsecureConfigError(
            "Refusing to start with the default or a short SECRET_KEY. Set one, e.g.\n"
            "  export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')\n"
            "or put SECRET_KEY = '...' in instance/config.py (`flask init` writes one)."
        )
