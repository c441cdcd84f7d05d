"""The admin's "one page per move": each staff move on one row (approve an order, issue an
invoice, complete a refund, answer an inquiry…) has a page of its own that calls one service
with the staff user as actor. The rows themselves are read-only (ReadOnlyAdmin,
ReadOnlyInline): the services are their only writers.

An admin declares its moves, and MoveAdminMixin serves them (refunds/admin.py)::

    class RefundRequestAdmin(MoveAdminMixin, ReadOnlyAdmin):
        moves = [
            RefundMove(
                name="reject",  # <pk>/reject/, admin:refunds_refundrequest_reject, RefundRequest.reject
                form_class=RefundRejectForm,
                template="admin/refunds/refundrequest/reject.html",
                title=gettext_lazy("Reject refund %(refund)s"),
                call=lambda request, refund, data: services.refund_reject(
                    refund=refund, actor=request.user, reason=data["reason"]
                ),
                form_errors=(RefundError,),
            ),
            CompleteRefund(),  # a Move subclass: its own form arguments and page context
        ]
        move_buttons_context = "refund_buttons"

where RefundMove, a Move subclass, holds what the refund pages share: the permission
("review": RefundRequestAdmin.has_review_permission), the row's name in the context
("refund"), the label and the messages.

Each page: 403 without the move's permission, 404 for no such row; when the row's state no
longer allows the move, a message (INFO for a repeat of the submission that made it, ERROR
otherwise) and the change page; GET shows the form; a valid POST calls the service, whose
domain error becomes a message or a form error (never a 500), and says what happened (done,
or done already by someone else) on the change page.
"""

from django.contrib import messages
from django.contrib.admin import ModelAdmin, TabularInline, display
from django.contrib.admin.utils import unquote
from django.core import checks
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

# What a move did, and the Move text the user is told for it.
REFUSED = "refused"  # the row's state does not allow the move: nothing changed
ALREADY = "already"  # a repeat of the submission that made the move: nothing changed
DONE = "done"  # this user made the move
DONE_BY_OTHER = "done_by_other"  # the service found the move made by someone else
LEVELS = {REFUSED: messages.ERROR, ALREADY: messages.INFO, DONE: messages.SUCCESS, DONE_BY_OTHER: messages.WARNING}


class Move:
    """One staff move on one row. Declared once per admin, as class attributes of a subclass
    or as keyword arguments; it keeps no state, so every hook gets the request and the row."""

    name = ""  # the URL <pk>/<name>/, its name <app>_<model>_<name>, and the django-fsm transition
    label = ""  # the change page's button
    permission = ""  # ModelAdmin.has_<permission>_permission(request) must be true
    object_name = "object"  # the row's name in the page's context
    template = ""
    title = ""  # filled with params(row)
    form_class = None  # None: a confirmation page without fields
    # Domain errors of the service (each with its `message`), never a 500:
    message_errors = ()  # shown as a message, with the change page
    form_errors = ()  # shown on the form (a move with a form), with the page again
    # What the user is told, filled with params(row): see REFUSED … DONE_BY_OTHER.
    refused = ""
    already = ""
    done = ""
    done_by_other = ""

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            if not hasattr(type(self), key):
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {key!r}")
            setattr(self, key, value)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    def call(self, request, obj, data):
        """The one service call, with request.user as actor; `data` is the form's cleaned
        data ({} without a form). Returns the service's result."""
        raise NotImplementedError(f"{self!r} declares no call")

    def allows(self, obj) -> bool:
        """Whether the row's state allows the move now (the service checks again under its lock)."""
        return can_proceed(getattr(obj, self.name))

    def is_repeat(self, request, obj) -> bool:
        """On a POST the row's state refuses: whether it is this very submission, made before."""
        return False

    def is_preview(self, request) -> bool:
        """Whether a POST only shows the page again (with the form checked), calling nothing."""
        return False

    def get_form_kwargs(self, request, obj) -> dict:
        return {}

    def get_form(self, request, obj):
        if self.form_class is None:
            return None
        posted = request.method == "POST"
        return self.form_class(
            request.POST if posted else None, request.FILES if posted else None, **self.get_form_kwargs(request, obj)
        )

    def outcome(self, request, result) -> str:
        """DONE, DONE_BY_OTHER or ALREADY, from what the service returned."""
        return DONE

    def moved(self, result):
        """The row as the service left it, which the outcome's message is about."""
        return result

    def params(self, obj) -> dict:
        """What the title and the messages are filled with."""
        return {}

    def message(self, kind, obj) -> str:
        """What the user is told for `kind` (REFUSED … DONE_BY_OTHER) about `obj`."""
        return getattr(self, kind) % self.params(obj)

    def extra_context(self, request, obj, form) -> dict:
        """What the page's template needs besides the row, the form and the URLs."""
        return {}


class MoveAdminMixin:
    """Serves the `moves` of a ModelAdmin: a URL and a page each, and the change page's buttons
    (a list of (url, label, move name) in the context variable `move_buttons_context`, if set)."""

    moves = ()
    move_buttons_context = None

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        for move in self.moves:
            if not callable(getattr(self, f"has_{move.permission}_permission", None)):
                errors.append(
                    checks.Error(
                        f"{move!r} needs {type(self).__name__}.has_{move.permission}_permission().",
                        obj=type(self),
                        id="admin_moves.E001",
                    )
                )
        return errors

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.move_view)
        moves = [
            path(f"<path:object_id>/{move.name}/", view, {"move_name": move.name}, name="%s_%s_%s" % (*info, move.name))
            for move in self.moves
        ]
        # Before the ModelAdmin's URLs, whose "<path:object_id>/" would take these.
        return [*moves, *super().get_urls()]

    def get_move(self, name) -> Move:
        return next(move for move in self.moves if move.name == name)

    def has_move_permission(self, request, move) -> bool:
        return getattr(self, f"has_{move.permission}_permission")(request)

    def move_buttons(self, request, obj) -> list[tuple[str, str, str]]:
        """(url, label, move name) of each move this user may make on the row in its state now."""
        return [
            (admin_url(self, move.name, obj.pk), move.label, move.name)
            for move in self.moves
            if self.has_move_permission(request, move) and move.allows(obj)
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.move_buttons_context:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                extra_context = {**(extra_context or {}), self.move_buttons_context: self.move_buttons(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def move_view(self, request, object_id, move_name):
        move = self.get_move(move_name)
        obj = admin_object_or_404(self, request, object_id, allowed=self.has_move_permission(request, move))
        posted = request.method == "POST"
        if not move.allows(obj):  # someone else acted first, or a double click
            return self.move_report(request, move, ALREADY if posted and move.is_repeat(request, obj) else REFUSED, obj)
        form = move.get_form(request, obj)
        if posted and not move.is_preview(request) and (form is None or form.is_valid()):
            try:
                result = move.call(request, obj, form.cleaned_data if form else {})
            except move.message_errors as error:
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(admin_url(self, "change", obj.pk))
            except move.form_errors as error:
                _add_form_error(form, error)
            else:
                return self.move_report(request, move, move.outcome(request, result), move.moved(result))
        return self.render_move_page(request, move, obj, form)

    def move_report(self, request, move, kind, obj):
        """Tell the user what happened (`kind`, about `obj`), and show the row."""
        self.message_user(request, move.message(kind, obj), LEVELS[kind])
        return HttpResponseRedirect(admin_url(self, "change", obj.pk))

    def render_move_page(self, request, move, obj, form):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": move.title % move.params(obj),
            move.object_name: obj,
            "move": move.name,
            "form": form,
            "change_url": admin_url(self, "change", obj.pk),
            **move.extra_context(request, obj, form),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, move.template, context)


class NoWritesMixin:
    """Nobody adds, edits or deletes these rows here, superusers included."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWritesMixin, ModelAdmin):
    """Rows that services make and move, and other rows point at: read-only here."""

    # The customer's pages and downloads are 404 for staff: no "view on site".
    view_on_site = False


class ReadOnlyInline(NoWritesMixin, TabularInline):
    extra = 0
    can_delete = False


def status_column(css_class: str):
    """A changelist and change page column showing a row's `status` as a badge the
    admin's stylesheets colour by state: `status_label = status_column("order-status")`."""

    @display(description=gettext_lazy("status"), ordering="status")
    def status_label(model_admin, obj):
        return format_html(
            '<span class="{} {}--{}" data-status="{}">{}</span>',
            css_class,
            css_class,
            obj.status,
            obj.status,
            obj.get_status_display(),
        )

    return status_label


def admin_url(model_admin, name, *args) -> str:
    """The URL of one of the admin's views: "change", a move's name, a download…"""
    opts = model_admin.opts
    site = model_admin.admin_site.name
    return reverse(f"{site}:{opts.app_label}_{opts.model_name}_{name}", args=args, current_app=site)


def admin_object_or_404(model_admin, request, object_id, *, allowed: bool):
    """The row, fresh from the database: 403 unless `allowed`, 404 for no such row."""
    if not allowed:
        raise PermissionDenied
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404
    return obj


def _add_form_error(form, error):
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, texts in error.message_dict.items():
            form.add_error(field if field in form.fields else None, texts)
    elif isinstance(error, ValidationError):
        form.add_error(None, error)
    else:
        form.add_error(None, error.message)
