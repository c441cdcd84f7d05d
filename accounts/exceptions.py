class AccountError(Exception):
    """A refused account change; the message is shown to the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message
