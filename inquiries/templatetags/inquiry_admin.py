"""Template helpers of the inquiry admin: the queue on the admin index."""

from django import template

from inquiries.selectors import inquiry_queue

register = template.Library()


@register.simple_tag
def inquiry_queues() -> dict:
    """Inquiries waiting for an answer: how many, and since when the oldest waits."""
    return {"waiting": inquiry_queue()}
