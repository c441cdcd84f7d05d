"""Template helpers of the customer's order pages."""

from django import template

from orders.selectors import line_ending_soon

register = template.Library()


@register.filter
def ending_soon(line) -> bool:
    """{% if line|ending_soon %}: the line's service ends within ENDING_SOON_DAYS."""
    return line_ending_soon(line)
