class RefundError(Exception):
    """A refused refund operation; `message` is shown to the user and nothing changed."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message
