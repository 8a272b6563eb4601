"""Domain errors: raised by services, turned into a form error, an HTTP 4xx with a reason or
a CLI message by the caller. Their text is shown to the user as is."""


class ValidationError(ValueError):
    """The input is invalid; nothing was stored."""


class NotFound(LookupError):
    """A named object does not exist (or is outside the caller's scope)."""
