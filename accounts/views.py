from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog.exceptions import ProductKeyError
from mall.ratelimit import rate_limit

from . import selectors, services
from .exceptions import AccountError
from .forms import AddressForm, ChangePasswordForm, InvoiceProfileForm, ProductKeyForm, ProfileForm, RegisterForm
from .models import Address, InvoiceProfile, Message, ProductKey
from .validators import is_local_path


def _safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@rate_limit("register", key="ip")
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


def _add_service_errors(form, error: ValidationError) -> None:
    """A service's ValidationError beside the form's fields (or on top for unknown ones)."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error)


# --- Invoice profiles (发票信息) ----------------------------------------------------------


def _own_invoice_profile(request, pk):
    try:
        return selectors.invoice_profile_get(user=request.user, pk=pk)
    except InvoiceProfile.DoesNotExist:
        raise Http404 from None


@login_required
def invoice_profile_list(request):
    context = {"profiles": selectors.invoice_profile_list(user=request.user)}
    return render(request, "accounts/invoiceprofile_list.html", context)


@login_required
def invoice_profile_add(request):
    form = InvoiceProfileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.invoice_profile_create(user=request.user, data=form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, _("Invoice details “%(title)s” saved.") % {"title": profile.title})
            return redirect(_safe_next(request, "accounts:invoice-profiles"))
    context = {"form": form, "next": _safe_next(request, "")}
    return render(request, "accounts/invoiceprofile_form.html", context)


@login_required
def invoice_profile_edit(request, pk):
    profile = _own_invoice_profile(request, pk)
    form = InvoiceProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        try:
            services.invoice_profile_update(profile=profile, data=form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, _("Invoice details “%(title)s” saved.") % {"title": profile.title})
            return redirect("accounts:invoice-profiles")
    return render(request, "accounts/invoiceprofile_form.html", {"form": form, "profile": profile})


@login_required
def invoice_profile_delete(request, pk):
    """GET asks for confirmation; POST deletes."""
    profile = _own_invoice_profile(request, pk)
    if request.method == "POST":
        try:
            services.invoice_profile_delete(profile=profile)
        except InvoiceProfile.DoesNotExist:
            raise Http404 from None
        messages.success(request, _("Invoice details “%(title)s” deleted.") % {"title": profile.title})
        return redirect("accounts:invoice-profiles")
    return render(request, "accounts/invoiceprofile_confirm_delete.html", {"profile": profile})


@login_required
@require_POST
def invoice_profile_default(request, pk):
    profile = _own_invoice_profile(request, pk)
    try:
        services.invoice_profile_set_default(profile=profile)
    except InvoiceProfile.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("“%(title)s” is now your default invoice details.") % {"title": profile.title})
    return redirect("accounts:invoice-profiles")


# --- Mailing addresses (收货地址) ---------------------------------------------------------


def _own_address(request, pk):
    try:
        return selectors.address_get(user=request.user, pk=pk)
    except Address.DoesNotExist:
        raise Http404 from None


@login_required
def address_list(request):
    return render(request, "accounts/address_list.html", {"addresses": selectors.address_list(user=request.user)})


@login_required
def address_add(request):
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_create(user=request.user, data=form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, _("The address was saved."))
            return redirect(_safe_next(request, "accounts:addresses"))
    return render(request, "accounts/address_form.html", {"form": form, "next": _safe_next(request, "")})


@login_required
def address_edit(request, pk):
    address = _own_address(request, pk)
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_update(address=address, data=form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, _("The address was saved."))
            return redirect("accounts:addresses")
    return render(request, "accounts/address_form.html", {"form": form, "address": address})


@login_required
def address_delete(request, pk):
    """GET asks for confirmation; POST deletes."""
    address = _own_address(request, pk)
    if request.method == "POST":
        try:
            services.address_delete(address=address)
        except Address.DoesNotExist:
            raise Http404 from None
        messages.success(request, _("The address was deleted."))
        return redirect("accounts:addresses")
    return render(request, "accounts/address_confirm_delete.html", {"address": address})


@login_required
@require_POST
def address_default(request, pk):
    address = _own_address(request, pk)
    try:
        services.address_set_default(address=address)
    except Address.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("This is now your default address."))
    return redirect("accounts:addresses")


# --- Messages (我的消息) ----------------------------------------------------------------

MESSAGES_PER_PAGE = 20


@login_required
def message_list(request):
    page = Paginator(selectors.message_list(user=request.user), MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    for message in page:
        message.local_link = message.link if is_local_path(message.link) else ""
    return render(request, "accounts/message_list.html", {"page": page})


@login_required
@require_POST
def message_read(request, pk):
    """Mark one message read; with `go`, continue to its link when that is a page of this site."""
    try:
        message = selectors.message_get(user=request.user, pk=pk)
    except Message.DoesNotExist:
        raise Http404 from None
    services.message_mark_read(message=message)
    if (request.POST.get("go") or request.GET.get("go")) and is_local_path(message.link):
        return redirect(message.link)
    return redirect(_safe_next(request, "accounts:messages"))


@login_required
@require_POST
def messages_read_all(request):
    count = services.message_mark_all_read(user=request.user)
    if count:
        messages.success(request, _("All your messages are marked read."))
    return redirect(_safe_next(request, "accounts:messages"))
