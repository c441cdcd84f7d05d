class InquiryError(Exception):
    """A refused move on an inquiry; the message is shown to the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message
