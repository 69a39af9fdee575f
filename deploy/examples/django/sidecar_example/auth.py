"""Trusting cognito-sidecar's identity headers.

The sidecar removes every identity header a client sends (including the
X_User_Sub spellings that WSGI folds into the same HTTP_X_USER_SUB) and sets
its own, so behind it these headers are facts. Without it they are whatever
the client typed: the app must listen on 127.0.0.1 only.
"""
from urllib.parse import unquote

from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.middleware import PersistentRemoteUserMiddleware

# X-User-Sub: the IdP's stable user id, the username of Django's user. Emails
# and names change; the sub does not.
SUB = "HTTP_X_USER_SUB"
EMAIL = "HTTP_X_USER_EMAIL"
NAME = "HTTP_X_USER_NAME"


class SidecarRemoteUserMiddleware(PersistentRemoteUserMiddleware):
    """Logs in the user named by X-User-Sub, creating it on the first visit.

    Persistent: a request without the header (a path the sidecar lets through
    unauthenticated) keeps the Django session instead of ending it. A different
    sub still logs the old user out and the new one in. See README.md for the
    trade-off.
    """

    header = SUB


class SidecarUserBackend(RemoteUserBackend):
    """RemoteUserBackend that fills in email and name when it logs a user in."""

    create_unknown_user = True

    def configure_user(self, request, user, created=True):
        sync_profile(user, request.META)
        return user


class SidecarProfileMiddleware:
    """Keeps email and name current on every request, not only at login
    (the backend runs only when the session has no user yet)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if SUB in request.META and request.user.is_authenticated:
            sync_profile(request.user, request.META)
        return self.get_response(request)


def header(meta, key):
    """The sidecar percent-encodes `%`, `,` and non-ASCII as UTF-8."""
    return unquote(meta.get(key, ""))


def sync_profile(user, meta):
    """Copies the headers onto the user; saves only on a change.

    The sidecar sends X-User-Email only when the IdP has verified it, so no
    header means no email, not "keep the old one". The whole name goes into
    first_name: a first/last split does not fit every name, and
    get_full_name() shows it as it is.
    """
    email = header(meta, EMAIL)[:254]
    name = header(meta, NAME)[:150]
    if (user.email, user.first_name, user.last_name) != (email, name, ""):
        user.email, user.first_name, user.last_name = email, name, ""
        user.save(update_fields=["email", "first_name", "last_name"])
