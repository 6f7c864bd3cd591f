class ChatError(Exception):
    """A chat request the shopper or agent can correct; the message says how. Nothing changed."""


class MessageRejected(ChatError):
    pass


class RateLimited(ChatError):
    pass


class NotAllowed(ChatError):
    pass
