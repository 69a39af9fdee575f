from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .models import Note

# Behind the sidecar every request is signed in; should one arrive without the
# header anyway, send the browser to the sidecar's sign-in, which comes back.
sign_in_required = login_required(login_url="/oauth2/start", redirect_field_name="rd")


@sign_in_required
@require_http_methods(["GET", "POST"])
def index(request):
    """The user's notes, and a form (CSRF-protected) that adds one."""
    if request.method == "POST":
        text = request.POST.get("text", "").strip()[:500]
        if text:
            Note.objects.create(owner=request.user, text=text)
        return redirect("index")
    notes = Note.objects.filter(owner=request.user)[:50]
    return render(request, "notes/index.html", {"notes": notes})


def whoami(request):
    """What Django makes of the request: for tests and for checking a deployment."""
    user = request.user
    return JsonResponse(
        {
            "is_authenticated": user.is_authenticated,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "name": user.get_full_name() if user.is_authenticated else "",
            "users": get_user_model().objects.count(),
            "is_secure": request.is_secure(),
        }
    )


@require_POST
def logout(request):
    """Ends Django's session, then the sidecar's (and Cognito's)."""
    auth.logout(request)
    return redirect("/oauth2/sign_out?rd=/")
