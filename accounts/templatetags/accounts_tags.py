from django import template

register = template.Library()


@register.filter
def minutes(delta):
    """A timedelta in whole minutes, e.g. for the sign-in lock-out's cool-off."""
    return int(delta.total_seconds() // 60) if delta else 0
