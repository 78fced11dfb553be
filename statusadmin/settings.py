"""Settings, all from the environment (12-factor). The README lists every variable.

Defaults suit a developer's machine. With DJANGO_DEBUG=0 (production) the secret key and the
allowed hosts must be given explicitly: a missing one stops start-up with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from statusadmin.audit import keyfiles  # these two are plain Python: no app loading needed
from statusadmin.convoso.status import EDITABLE_FIELDS

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("STATUSADMIN_DATA_DIR", BASE_DIR / "data"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if not value:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}.")


def env_number(name: str, default: float) -> float:
    value = env(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_secret(name: str) -> str:
    """A secret from NAME, or from the file NAME_FILE names (Docker and Kubernetes secrets)."""
    value, path = env(name), env(f"{name}_FILE")
    if value and path:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if not path:
        return value
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE ({path}) can't be read: {exc.strerror}.") from None


def role_map(text: str) -> dict[str, str]:
    """OIDC_ROLE_MAP, "idp-group=Role,idp-group=account:Role,...", as {idp group: role}: a
    role in the default account, or "<slug>:Role" in another Convoso account; only the
    dashboard's roles."""
    roles = {"Supervisor", "Compliance", "Approver"}
    mapped = {}
    for pair in (item.strip() for item in text.split(",") if item.strip()):
        group, _, role = (part.strip() for part in pair.partition("="))
        account, _, bare = role.rpartition(":")
        if not group or bare not in roles or (":" in role and not account):
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: {pair!r} is not idp-group=Role or idp-group=account:Role, "
                f"with Role one of {', '.join(sorted(roles))}."
            )
        mapped[group] = role
    return mapped


# The identity provider's id in our URLs: /accounts/oidc/<this>/login/.
OIDC_APP_ID = "statusadmin"


def oidc_providers(
    issuer: str, client_id: str, secret: str, name: str, scopes: list[str]
) -> dict[str, object]:
    """allauth's SOCIALACCOUNT_PROVIDERS for one OpenID Connect provider (none, no issuer):
    allauth's provider with a nonce and the ID token's signature always checked
    (accounts/oidc.py says why), PKCE on."""
    app = {
        "provider_id": OIDC_APP_ID,
        "name": name,
        "client_id": client_id,
        "secret": secret,
        "settings": {"server_url": issuer, "oauth_pkce_enabled": True, "scope": scopes},
    }
    return {
        "openid_connect": {
            "provider_class": "statusadmin.accounts.oidc.Provider",
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [app] if issuer else [],
        }
    }


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "django-insecure-local-development-only-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG is off, "
        "e.g. DJANGO_ALLOWED_HOSTS=statusadmin.example.com"
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "django_tasks_db",
    # Single sign-on (OpenID Connect) and second factors: django-allauth (accounts/identity.py).
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "statusadmin.convoso",
    "statusadmin.statuses",
    "statusadmin.approvals",
    "statusadmin.changesets",
    "statusadmin.audit",
    "statusadmin.accounts",
    "statusadmin.worker",
]

MIDDLEWARE = [
    "statusadmin.request_context.RequestIdMiddleware",
    # Answers /healthz before host checks and the HTTPS redirect: load balancers and the
    # container's own health check ask by IP address over plain HTTP.
    "statusadmin.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads request.GET or request.POST: see the class for why.
    "statusadmin.middleware.RequestBodyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A search response holds up to 25 rows of switches per table; compressed, a tenth the size.
    # Django's GZipMiddleware at a chosen level (GZIP_LEVEL); padded against BREACH as Django
    # pads, and CSRF tokens are masked.
    "statusadmin.middleware.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # First to read request.user, while the session still says whose it was.
    "statusadmin.accounts.middleware.EndRevokedSessionsMiddleware",
    # Times in the zone the person chose, from here on.
    "statusadmin.accounts.middleware.TimeZoneMiddleware",
    # Which Convoso account the request is about (/a/<slug>/), before anything checks a
    # permission: every permission is that account's.
    "statusadmin.middleware.ConvosoAccountMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "statusadmin.middleware.SessionIdleTimeoutMiddleware",
    "statusadmin.request_context.RequestLogMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "statusadmin.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Approvals and the admin need a second factor from approvers, staff and superusers.
    "statusadmin.accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "statusadmin.middleware.DebugNotFoundMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]
# How hard responses are compressed, 1 (fastest) to 9 (smallest); gzip's own default is 6.
# 3: under half the time of 6 for about a tenth more bytes (README, Performance).
GZIP_LEVEL = min(max(int(env_number("GZIP_LEVEL", 3)), 1), 9)

ROOT_URLCONF = "statusadmin.urls"
WSGI_APPLICATION = "statusadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "statusadmin.context_processors.convoso",
                "statusadmin.accounts.identity.carry_on",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'statusadmin.sqlite3'}",
        conn_max_age=int(env_number("DATABASE_CONN_MAX_AGE", 60)),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the dashboard read while a write is in progress; IMMEDIATE takes the write lock
    # at BEGIN so concurrent writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
    }
    # Tests use a file too, not SQLite's in-memory database: threads (the sandbox server, the
    # live server, concurrency tests) then get their own connections, as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

CACHE_URL = env("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "statusadmin.cache.RedisCache", "LOCATION": CACHE_URL}}
    # Sessions read from Redis, written through to the database (which keeps them durable).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # Search keeps counts of matches there (statuses/counts.py). Not in the database cache:
    # there each new search would write a row to spare a count that costs about as much.
    SEARCH_COUNTS_KEPT = True
else:
    SEARCH_COUNTS_KEPT = False
    # Shared by every worker and host, unlike the per-process local-memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username/address pair is refused before passwords are checked.
    "axes.backends.AxesStandaloneBackend",
    "statusadmin.accounts.backends.CachedUserBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "statuses:index"
LOGOUT_REDIRECT_URL = "login"

# --- Identity: single sign-on over OpenID Connect, and a second factor (django-allauth) ---------
# The identity provider, found through its discovery document (OIDC_ISSUER/.well-known/...).
OIDC_ISSUER = env("OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = env("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET")
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_GROUPS_CLAIM = env("OIDC_GROUPS_CLAIM", "groups")
# What to ask for: many providers (Okta, Keycloak) add the groups claim only for its scope.
OIDC_SCOPES = env_list("OIDC_SCOPES", "openid,profile,email,groups")
# "idp-group=Role,...": a person's roles here are exactly the mapped roles of their groups.
OIDC_ROLE_MAP = role_map(env("OIDC_ROLE_MAP"))
if OIDC_ISSUER and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too.")
# 0: only superusers may sign in with a password (break-glass, audited as such).
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
# Who must pass a second factor before approving or administering, and how recent a factor a
# decision needs (step-up). An IdP's own MFA (the ID token's amr) counts when trusted.
MFA_REQUIRED_GROUPS = env_list("MFA_REQUIRED_GROUPS", "Approver")
MFA_STEP_UP_MINUTES = env_number("MFA_STEP_UP_MINUTES", 10)
MFA_TRUST_IDP = env_bool("MFA_TRUST_IDP", True)

SOCIALACCOUNT_PROVIDERS = oidc_providers(
    OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_PROVIDER_NAME, OIDC_SCOPES
)
SOCIALACCOUNT_ADAPTER = "statusadmin.accounts.oidc.SocialAccountAdapter"
ACCOUNT_ADAPTER = "statusadmin.accounts.identity.AccountAdapter"
# A person is their issuer and subject: never matched, connected or created by e-mail.
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_QUERY_EMAIL = False
SOCIALACCOUNT_STORE_TOKENS = False
# Signing in starts with a POST (with its CSRF token), never a link another site could fire.
SOCIALACCOUNT_LOGIN_ON_GET = False
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = False
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*"]
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = "statusadmin"
MFA_PASSKEY_LOGIN_ENABLED = False
# WebAuthn needs a secure origin; http://localhost counts as one only while developing.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves compressed files with hashed names (after collectstatic); development
    # serves straight from the source folders, so no collectstatic is needed to try it.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Served at the site root: browsers ask for /favicon.ico on pages without an icon (the admin).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start if it is missing


# --- Content Security Policy (Django's built-in middleware) ------------------------------------
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    # Signing in posts here, then is redirected to the identity provider: browsers hold the
    # redirect to form-action too.
    "form-action": [CSP.SELF, *([_origin(OIDC_ISSUER)] if OIDC_ISSUER else [])],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# --- Other security headers and cookies -----------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The dashboard uses none of these browser features; deny them to anything it might embed.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "payment", "usb",
    )
}  # fmt: skip
# Passkeys and security keys (the second factor's WebAuthn), for this site only.
PERMISSIONS_POLICY |= {
    "publickey-credentials-get": ["self"],
    "publickey-credentials-create": ["self"],
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The CSRF refusal in the site layout, saying what to do (reload), not a bare 403.
CSRF_FAILURE_VIEW = "statusadmin.error_pages.csrf_failure"
# Sessions end after this many seconds without a request (the middleware slides the expiry).
SESSION_IDLE_TIMEOUT = int(env_number("SESSION_IDLE_TIMEOUT", 30 * 60))
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env_number("SECURE_HSTS_SECONDS", 31_536_000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (header name, value).
if proxy_header := env("SECURE_PROXY_SSL_HEADER"):
    name, _, value = proxy_header.partition(",")
    SECURE_PROXY_SSL_HEADER = (name.strip(), value.strip() or "https")

# --- Login throttling (django-axes) -------------------------------------------------------------
AXES_FAILURE_LIMIT = int(env_number("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=env_number("AXES_COOLOFF_MINUTES", 15))
# A call centre shares one public address: lock a username *from an address*, so one person's
# typos (or an attacker's guesses) never lock out the whole floor.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "statusadmin.request_context.client_ip_for_axes"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429

# --- Convoso ------------------------------------------------------------------------------------
CONVOSO_API_URL = env("CONVOSO_API_URL", "https://api.convoso.com/v1")
CONVOSO_AUTH_TOKEN = env("CONVOSO_AUTH_TOKEN")
# No token means sandbox mode: an emulator of the Status API, with its state in this database.
CONVOSO_SANDBOX = not CONVOSO_AUTH_TOKEN
CONVOSO_CONNECT_TIMEOUT = env_number("CONVOSO_CONNECT_TIMEOUT", 3.05)
CONVOSO_READ_TIMEOUT = env_number("CONVOSO_READ_TIMEOUT", 10)
CONVOSO_RETRIES = int(env_number("CONVOSO_RETRIES", 2))
CONVOSO_RETRY_BACKOFF = env_number("CONVOSO_RETRY_BACKOFF", 0.25)
CONVOSO_SANDBOX_LATENCY_MS = env_number("CONVOSO_SANDBOX_LATENCY_MS", 0)
# The name the default account (the token above, or the sandbox) goes by beside the others.
# (Empty: "Sandbox" without a token, else "Main".)
CONVOSO_ACCOUNT_NAME = env("CONVOSO_ACCOUNT_NAME")
# Fernet keys that encrypt the tokens of the other Convoso accounts (convoso/tokens.py), comma-
# separated: the first encrypts, all decrypt. Development makes one of its own (below).
CONVOSO_TOKEN_KEYS = [k.strip() for k in env_secret("CONVOSO_TOKEN_KEYS").split(",") if k.strip()]

# The audit chain's head is appended here by `manage.py audit_checkpoint` (keep it, or ship
# its lines, somewhere the database's administrators can't rewrite).
AUDIT_CHECKPOINT_FILE = env("AUDIT_CHECKPOINT_FILE") or str(DATA_DIR / "audit-checkpoints.jsonl")


# The audit chain key tags every new entry (audit/keys.py): it must live outside the database
# and be distinct from the secret key, which signs sessions and so sits wherever the web
# process does. Empty (in tests only: development makes its own, production refuses to start):
# entries are hashed but not tagged (anyone with database access could recompute the chain
# after an edit; only checkpoints would show it).
AUDIT_CHAIN_KEY = env_secret("AUDIT_CHAIN_KEY")
# An Ed25519 private key (PEM) that signs checkpoints, and a folder of the public keys of
# retired signing keys (*.pem), so checkpoints they signed stay verifiable after a rotation.
AUDIT_SIGNING_KEY_FILE = env("AUDIT_SIGNING_KEY_FILE")
AUDIT_PUBLIC_KEYS_DIR = env("AUDIT_PUBLIC_KEYS_DIR")
# In development, a key that isn't configured is one of its own, made on the first start
# (audit/keyfiles.py), so that `make run` tags entries and signs checkpoints as production
# does, and its evidence bundles verify. Production (DJANGO_DEBUG=0) never gets these: it
# refuses to start without keys (audit/checks.py). Decided here, when the settings load,
# because pytest-django turns DEBUG off while tests run, which must not make them production.
AUDIT_KEYS_REQUIRED = not DEBUG
AUDIT_DEV_KEYS_DIR = DATA_DIR / "dev-keys"


def development_key[T](make: Callable[[Path], T]) -> T:
    try:
        return make(AUDIT_DEV_KEYS_DIR)
    except OSError as exc:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is on and an audit key is not configured, but it can't create the "
            f"development audit keys in {AUDIT_DEV_KEYS_DIR} ({exc.strerror}). Set "
            "STATUSADMIN_DATA_DIR to a folder it can write, or configure the keys."
        ) from None


if DEBUG and not AUDIT_CHAIN_KEY:
    AUDIT_CHAIN_KEY = development_key(keyfiles.development_chain_key)
if DEBUG and not AUDIT_SIGNING_KEY_FILE:
    AUDIT_SIGNING_KEY_FILE = str(development_key(keyfiles.development_signing_key))
if DEBUG and not CONVOSO_TOKEN_KEYS:
    CONVOSO_TOKEN_KEYS = [development_key(keyfiles.development_token_key)]
if AUDIT_CHAIN_KEY and len(AUDIT_CHAIN_KEY) < 32:
    raise ImproperlyConfigured(
        "AUDIT_CHAIN_KEY must be at least 32 characters. Generate one with: "
        "python manage.py audit_keygen --chain-key FILE"
    )
if AUDIT_CHAIN_KEY and AUDIT_CHAIN_KEY == SECRET_KEY:
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must differ from DJANGO_SECRET_KEY.")
# Where else each checkpoint goes, besides the file: a syslog collector ("udp://host:514",
# "tcp://host:601", or "host:port" for UDP) and/or an HTTP endpoint (POST of the JSON), with an
# optional bearer token for it.
AUDIT_CHECKPOINT_SYSLOG = env("AUDIT_CHECKPOINT_SYSLOG")
AUDIT_CHECKPOINT_URL = env("AUDIT_CHECKPOINT_URL")
AUDIT_CHECKPOINT_URL_TOKEN = env_secret("AUDIT_CHECKPOINT_URL_TOKEN")
AUDIT_CHECKPOINT_TIMEOUT = env_number("AUDIT_CHECKPOINT_TIMEOUT", 5)
# Processes that verify a long chain (PostgreSQL) side by side; 1 walks it in one. Each holds a
# database connection, so the default stops at 4 however many CPUs a server has.
AUDIT_VERIFY_PROCESSES = max(
    1, int(env_number("AUDIT_VERIFY_PROCESSES", min(os.cpu_count() or 1, 4)))
)

# Proxies whose X-Forwarded-For (and X-Request-ID) are believed: addresses or networks.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

# /healthz asks Convoso at most this often (seconds); in between it reports the last answer.
HEALTHZ_CONVOSO_TTL = int(env_number("HEALTHZ_CONVOSO_TTL", 60))

# --- Four eyes: changes to these fields wait for a second person (approvals/services.py) ----
APPROVAL_FIELDS = env_list("APPROVAL_FIELDS", "dnc")
if unknown := [f for f in APPROVAL_FIELDS if f not in EDITABLE_FIELDS]:
    raise ImproperlyConfigured(
        f"APPROVAL_FIELDS may name only {', '.join(EDITABLE_FIELDS)}; not {', '.join(unknown)}."
    )
# A request nobody decided within this many hours is closed, never sent.
APPROVAL_TTL_HOURS = env_number("APPROVAL_TTL_HOURS", 72)

# --- E-mail (approval notices): SMTP from the environment; the console in development. ------
_email_host = env("EMAIL_HOST")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend"
        if _email_host or not DEBUG
        else "django.core.mail.backends.console.EmailBackend",
        "OPTIONS": {
            "host": _email_host or "localhost",
            "port": int(env_number("EMAIL_PORT", 25)),
            "username": env("EMAIL_HOST_USER") or None,
            "password": env("EMAIL_HOST_PASSWORD") or None,
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": env_number("EMAIL_TIMEOUT", 10),
        }
        if _email_host or not DEBUG
        else {},
    }
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "statusadmin@localhost")
# Where people reach the dashboard, for links in e-mail (e.g. https://statusadmin.example.com).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# --- Background work: Django's Tasks framework -----------------------------------------------
# "database" (default): the queue lives in this database (django-tasks-db), so `make run` needs
# nothing else. "redis": RQ on TASKS_REDIS_URL (django-tasks-rq), for several machines.
TASKS_BACKEND = env("TASKS_BACKEND", "database")
if TASKS_BACKEND == "redis":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": env("TASKS_REDIS_URL", "redis://127.0.0.1:6379/0")}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
elif TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
else:
    raise ImproperlyConfigured(f"TASKS_BACKEND must be database or redis, not {TASKS_BACKEND!r}.")
# How many changes of one change set go to Convoso at the same time.
CHANGE_SET_CONCURRENCY = int(env_number("CHANGE_SET_CONCURRENCY", 4))
# Recurring jobs (the worker runs them; no cron): seconds between runs.
AUDIT_CHECKPOINT_EVERY = env_number("AUDIT_CHECKPOINT_EVERY", 3600)
VERIFY_AUDIT_EVERY = env_number("VERIFY_AUDIT_EVERY", 86400)

# The status mirror is refreshed from Convoso when older than this many seconds.
MIRROR_MAX_AGE = env_number("MIRROR_MAX_AGE", 60)

# One JSON object per line in production (for log shippers); plain text while developing.
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "statusadmin.logs.RequestContextLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(user)s] %(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's DEFAULT_LOGGING gives "django" a console handler of its own that prints when
        # DEBUG is on; with ours on the root every worker line would show twice. No handlers here
        # removes it, and the lines reach the root handler once.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # Our request log has one line per request; Django's would repeat 4xx/5xx ones.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # Lockouts are warnings; every successful login's "reset" line is noise.
        "axes": {"level": "WARNING"},
    },
}
