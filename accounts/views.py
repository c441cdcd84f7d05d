from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog.exceptions import ProductKeyError

from . import selectors, services
from .exceptions import AccountError
from .forms import ChangePasswordForm, ProductKeyForm, ProfileForm, RegisterForm
from .models import ProductKey


def _safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:centre")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                real_name=data["real_name"],
                mobile=data["mobile"],
                company=data["company"],
            )
        except AccountError as error:
            form.add_error(None, error.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to Cloud Mall, %(name)s.") % {"name": user})
            return redirect(_safe_next(request, "catalog:service-list"))
    return render(request, "accounts/register.html", {"form": form, "next": _safe_next(request, "")})


@login_required
def user_centre(request):
    return redirect("accounts:profile")


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update_profile(
                user=request.user,
                real_name=data["real_name"],
                email=data["email"],
                mobile=data["mobile"],
                company=data["company"],
            )
        except AccountError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
def password_change(request):
    form = ChangePasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password was changed."))
        return redirect("accounts:password")
    return render(request, "accounts/password_change.html", {"form": form})


@login_required
def product_key_list(request):
    form = ProductKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.product_key_save(
                user=request.user, key=form.cleaned_data["key"], label=form.cleaned_data["label"]
            )
        except ProductKeyError as error:
            form.add_error("key", error.message)
        except AccountError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("Product key %(key)s saved: it belongs to %(line)s.") % {"key": key.key, "line": key.product_line},
            )
            return redirect(_safe_next(request, "accounts:product-keys"))
    context = {"form": form, "keys": selectors.product_key_list(user=request.user)}
    return render(request, "accounts/productkey_list.html", context)


@login_required
@require_POST
def product_key_delete(request, pk):
    try:
        services.product_key_delete(user=request.user, pk=pk)
    except ProductKey.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("The product key was removed."))
    return redirect("accounts:product-keys")
