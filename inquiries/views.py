"""咨询管理 in the user centre: the customer's questions and the staff answers. Every URL
shows only the signed-in customer's own inquiries (anyone else's is a 404)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import InquiryForm, InquiryReplyForm
from .models import Inquiry

INQUIRIES_PER_PAGE = 20


def _own_inquiry(request, pk) -> Inquiry:
    try:
        return selectors.inquiry_get_for_customer(customer=request.user, pk=pk)
    except Inquiry.DoesNotExist:
        raise Http404 from None


def _add_errors(form, error: ValidationError) -> None:
    """The service's errors beside the form's fields; the service or order asked about
    (not fields of the form) on top."""
    for field, texts in error.message_dict.items():
        form.add_error(field if field in form.fields else None, texts)


def _about(request):
    """The service (on sale) or the customer's order the question is about, from the query
    string; 404 for any other."""
    from catalog.models import Service
    from catalog.selectors import service_get_on_sale
    from orders.models import Order

    service = order = None
    service_id, number = request.GET.get("service", ""), request.GET.get("order", "")
    if service_id:
        try:
            service = service_get_on_sale(pk=int(service_id))
        except (ValueError, Service.DoesNotExist):
            raise Http404 from None
    if number:
        order = Order.objects.filter(customer=request.user, number=number).first()
        if order is None:
            raise Http404
    return service, order


@login_required
def inquiry_list(request):
    page = Paginator(selectors.inquiry_list_for_customer(customer=request.user), INQUIRIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    unread = selectors.inquiry_unread_ids(customer=request.user)
    for inquiry in page:
        inquiry.unread_answer = inquiry.pk in unread
    return render(request, "inquiries/inquiry_list.html", {"page": page})


@login_required
def inquiry_create(request):
    """GET shows the form about ?service=<id> or ?order=<number>; POST asks. A service or
    order that is not (or no longer) the customer's to ask about is an error on the form."""
    if request.method == "POST":
        service = order = None
        form = InquiryForm(request.POST)
        if form.is_valid():
            try:
                inquiry = services.inquiry_create(
                    customer=request.user,
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                    service_id=request.GET.get("service") or None,
                    order_number=request.GET.get("order") or None,
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("Your question was sent. You will get a message when it is answered."))
                return redirect("inquiries:detail", inquiry.pk)
        try:
            service, order = _about(request)
        except Http404:
            pass  # the form says what is wrong
    else:
        service, order = _about(request)
        if order is not None:
            subject = _("About order %(number)s") % {"number": order.number}
        elif service is not None:
            subject = _("About %(service)s") % {"service": service.name}
        else:
            subject = ""
        form = InquiryForm(initial={"subject": subject[: services.SUBJECT_MAX]})
    return render(request, "inquiries/inquiry_form.html", {"form": form, "service": service, "order": order})


def _render_detail(request, inquiry, form, status=200):
    thread = list(selectors.inquiry_messages(inquiry=inquiry))
    if form.is_bound is False:
        form.initial["after"] = thread[-1].pk if thread else None
    context = {"inquiry": inquiry, "thread": thread, "form": form}
    return render(request, "inquiries/inquiry_detail.html", context, status=status)


@login_required
def inquiry_detail(request, pk):
    inquiry = _own_inquiry(request, pk)
    services.inquiry_mark_seen(inquiry=inquiry)
    return _render_detail(request, inquiry, InquiryReplyForm())


@login_required
@require_POST
def inquiry_reply(request, pk):
    inquiry = _own_inquiry(request, pk)
    form = InquiryReplyForm(request.POST)
    if form.is_valid():
        try:
            _inquiry, added = services.inquiry_reply(
                inquiry=inquiry, customer=request.user, body=form.cleaned_data["body"], after=form.cleaned_data["after"]
            )
        except ValidationError as error:
            _add_errors(form, error)
        except Inquiry.DoesNotExist:
            raise Http404 from None
        else:
            if added:
                messages.success(request, _("Your reply was sent."))
            return redirect("inquiries:detail", inquiry.pk)
    return _render_detail(request, inquiry, form)


@login_required
@require_POST
def inquiry_close(request, pk):
    inquiry = _own_inquiry(request, pk)
    try:
        _inquiry, closed = services.inquiry_close(inquiry=inquiry, customer=request.user)
    except Inquiry.DoesNotExist:
        raise Http404 from None
    if closed:
        messages.success(request, _("The inquiry is closed. Reply to it if you want to ask more."))
    return redirect("inquiries:detail", inquiry.pk)
