"""Tokens that must be new in every response, as the page cache needs them rendered
(mall/pagecache/tokens.py). The library is one of the template engine's builtins
(TEMPLATES in mall/settings/base.py), so its {% csrf_token %} replaces Django's in every
template; outside a page the cache may keep, both render exactly what Django's would."""

from django import template
from django.utils.html import format_html

from mall.pagecache import django_internals, tokens

register = template.Library()


class CsrfTokenNode(template.Node):
    def render(self, context):
        placeholder = tokens.placeholder(context.get("request"), tokens.CSRF)
        if placeholder is None:
            return django_internals.render_csrf_input(context)
        return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', placeholder)


@register.tag
def csrf_token(parser, token):
    """Django's {% csrf_token %}; on a page the cache may keep, a placeholder the cache
    fills in with a new token of the visitor's own in each response."""
    return CsrfTokenNode()


@register.simple_tag(takes_context=True)
def fresh_input(context, field):
    """A hidden form field whose value must be new in every response (the checkout form's
    one-time token), rendered as {{ field }} would be; on a page the cache may keep, its
    value is a placeholder the cache fills in with a new UUID in each response."""
    placeholder = tokens.placeholder(context.get("request"), tokens.UUID)
    if placeholder is None:
        return field.as_widget()
    widget = field.field.widget
    attrs = field.build_widget_attrs({"id": field.auto_id} if field.auto_id else {}, widget)
    return widget.render(field.html_name, placeholder, attrs=attrs, renderer=field.form.renderer)
