from django.utils.translation import gettext as _


class OrderError(Exception):
    """A refused order operation; `message` is shown to the user and nothing changed."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class TransitionRefused(OrderError):
    def __init__(self, order, action_label):
        super().__init__(
            _("Order %(number)s is “%(status)s”: “%(action)s” is not possible now.")
            % {"number": order.number, "status": order.get_status_display(), "action": action_label}
        )
