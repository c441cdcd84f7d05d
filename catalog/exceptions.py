from django.utils.translation import gettext_lazy as _


class ProductKeyError(Exception):
    """A product key the shop cannot resolve; `message` is shown to the customer."""

    message = _("This product key cannot be used.")

    def __init__(self, message=None):
        super().__init__(message or self.message)
        if message is not None:
            self.message = message


class MalformedProductKey(ProductKeyError):
    message = _(
        "A product key has 4 to 64 letters, digits, “-” or “+”, for example E3P-1A2B-3C4D-5E6F. "
        "Please check what you typed."
    )


class UnknownProductKey(ProductKeyError):
    message = _("No product matches this product key. Please check it, or contact customer service.")
