"""Settings for a Django app that runs behind cognito-sidecar.

The sidecar signs users in and forwards each request with identity headers
(X-User-Sub, X-User-Email, X-User-Name, ...). Django trusts them through
sidecar_example.auth, so the app must be reachable only through the sidecar:
bind it to 127.0.0.1 (`gunicorn --bind 127.0.0.1:8000`), never 0.0.0.0.

Settings come from the environment, so the same file serves the test suite
(tests/it/django.rs) and a real deployment.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name, default=""):
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


# Required: `python -c "import secrets; print(secrets.token_urlsafe(50))"`.
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"

# The host names browsers use for the app. The sidecar keeps the browser's
# Host header (its pass-host-header setting, on by default), so this is the
# public name (app.example.com), not 127.0.0.1:8000.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

# Django's CSRF check compares a POST's Origin with the scheme and Host it
# sees. With the Host kept and X-Forwarded-Proto believed (below) they match
# and this list can stay empty; name the public origin here
# (https://app.example.com) when something in front rewrites Host.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# TLS ends at the sidecar (or a proxy in front of it), so Django only sees
# plain http. The sidecar sets X-Forwarded-Proto itself and replaces a
# client's value (it believes one only from its trusted-proxies), so Django
# may take it for the scheme: request.is_secure(), https redirects and the
# CSRF Origin check then see https. Never set this for an app that clients
# can reach without the sidecar.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Django's session should not outlive the sidecar's (session-ttl, 12 h by
# default): see README.md on PersistentRemoteUserMiddleware.
SESSION_COOKIE_AGE = int(os.environ.get("DJANGO_SESSION_SECONDS", 12 * 3600))

# Secure cookies unless DJANGO_HTTPS=0 (local runs over plain http only).
HTTPS = os.environ.get("DJANGO_HTTPS", "1") != "0"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware: logs in the user named by X-User-Sub,
    # then copies email and name from the other headers onto the user.
    "sidecar_example.auth.SidecarRemoteUserMiddleware",
    "sidecar_example.auth.SidecarProfileMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The only way in is the sidecar's header: no ModelBackend, so no password
# can log anyone in (not even as a user named after a sub).
AUTHENTICATION_BACKENDS = ["sidecar_example.auth.SidecarUserBackend"]

ROOT_URLCONF = "sidecar_example.urls"
WSGI_APPLICATION = "sidecar_example.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
