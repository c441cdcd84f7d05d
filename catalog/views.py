from functools import partial
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET

from accounts.selectors import product_key_line_ids
from mall import pagecache

from .exceptions import ProductKeyError
from .forms import ProductKeyLookupForm, ServiceFilterForm
from .models import ProductLine, Service
from .selectors import (
    ServiceFilters,
    catalog_navigation,
    product_key_normalize,
    product_line_get_for_key,
    service_get_on_sale,
    service_ids,
    service_list_by_ids,
    service_list_featured,
)

PAGE_SIZE = 20
SESSION_KEY_LINE = "catalog_key_product_line"


def _filters_from(request):
    """The filter form and the selector it renders, with the filters narrowed alike."""
    form = ServiceFilterForm(request.GET)
    form.is_valid()
    navigation = catalog_navigation(filters=form.filters())
    selector = {
        "product_lines": navigation.product_lines,
        "platforms": navigation.platforms,
        "modules": navigation.modules,
        "filters": navigation.filters,
        # The template's cached fragments: keyed by the catalogue's version, kept for
        # catalog_cache_seconds (0 when nothing may be cached from the catalogue).
        "results_key": navigation.cache_key,
        "catalog_version": navigation.version,
        "catalog_cache_seconds": navigation.cache_seconds,
    }
    return form, navigation.filters, selector


def _key_mismatch(request, product_line):
    """The product lines of the visitor's keys when `product_line` is not one of them.

    The guide warns that some E3+ customers hold an E3全渠道 key and must order by
    the key, not the product name. Keys come from the customer's saved keys and the
    last key looked up in this session.
    """
    if product_line is None:
        return None
    line_ids = set(product_key_line_ids(request.user)) if request.user.is_authenticated else set()
    if request.session.get(SESSION_KEY_LINE):
        line_ids.add(request.session[SESSION_KEY_LINE])
    if not line_ids or product_line.pk in line_ids:
        return None
    return list(ProductLine.objects.filter(pk__in=line_ids))


@pagecache.cacheable
@require_GET
def home(request):
    form, _filters, selector = _filters_from(request)
    context = {
        "form": form,
        # Fetched only when the template's cached featured fragment is missing.
        "featured": SimpleLazyObject(service_list_featured),
        "key_form": ProductKeyLookupForm(),
        **selector,
    }
    return render(request, "catalog/home.html", context)


@pagecache.cacheable
@require_GET
def service_list(request):
    form, filters, selector = _filters_from(request)
    page = Paginator(service_ids(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    # Page links carry the filters in effect, not whatever else the URL had: the
    # results fragment they sit in is cached per filters.
    query = {"q": filters.q, "product": filters.product_line, "platform": filters.platform, "module": filters.module}
    query = urlencode({name: getattr(value, "pk", value) for name, value in query.items() if value})
    context = {
        "form": form,
        "problems": form.problems(),
        "page": page,
        # Fetched only when the template's cached results fragment is missing.
        "services": SimpleLazyObject(partial(service_list_by_ids, page.object_list)),
        "query": query,
        "key_lines": _key_mismatch(request, filters.product_line),
        **selector,
    }
    return render(request, "catalog/service_list.html", context)


@require_GET
def selector(request):
    """The product → platform → module selector, narrowed to what has services.

    htmx swaps it in place when a choice changes; without JavaScript the form's
    button submits to the service list, which shows the same narrowed choices.
    """
    if not request.htmx:
        return redirect(f"{reverse('catalog:service-list')}?{request.GET.urlencode()}")
    form, _filters, selector = _filters_from(request)
    return render(request, "catalog/_selector.html", {"form": form, **selector})


@pagecache.cacheable
@require_GET
def service_detail(request, pk):
    try:
        service = service_get_on_sale(pk=pk)
    except Service.DoesNotExist:
        raise Http404 from None
    context = {"service": service, "key_lines": _key_mismatch(request, service.product_line)}
    return render(request, "catalog/service_detail.html", context)


@require_GET
def key_finder(request):
    """产品密钥 → the product line it belongs to → that line's services."""
    form = ProductKeyLookupForm(request.GET if "key" in request.GET else None)
    context = {"key_form": form}
    if form.is_bound and form.is_valid():
        key = product_key_normalize(form.cleaned_data["key"])
        try:
            line = product_line_get_for_key(key=key)
        except ProductKeyError as error:
            form.add_error("key", error.message)
        else:
            request.session[SESSION_KEY_LINE] = line.pk
            ids = service_ids(filters=ServiceFilters(product_line=line))
            page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
            context.update(
                key=key,
                product_line=line,
                page=page,
                services=service_list_by_ids(page.object_list),
                query=urlencode({"key": key}),
                saved=request.user.is_authenticated and request.user.product_keys.filter(key=key).exists(),
            )
    return render(request, "catalog/key_finder.html", context)
