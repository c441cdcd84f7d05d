from django.conf import settings


def shop(request):
    """The seller's contact details for the footer and help page."""
    return {"seller": settings.SELLER}
