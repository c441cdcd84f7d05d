from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.selectors import message_unread_count


def shop(request):
    """The seller's contact details for the footer and help page."""
    return {"seller": settings.SELLER}


def unread_messages(request):
    """`unread_message_count` for the header badge.

    Lazy: counted (one query) only when a template shows it, which base.html does only
    for a signed-in user; anonymous pages and partials never query.
    """

    def count():
        user = getattr(request, "user", None)
        return message_unread_count(user=user) if user is not None and user.is_authenticated else 0

    return {"unread_message_count": SimpleLazyObject(count)}
