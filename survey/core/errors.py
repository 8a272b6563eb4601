"""Domain errors: raised by the core, turned into a form error, an HTTP 4xx with a reason
or a CLI message by the caller. Their text is shown to the user as is; a `code` lets a
page put the message in the user's language."""


class ValidationError(ValueError):
    """The input is invalid; nothing was stored."""

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params  # what a translated message names (e.g. period, day)


def on_line(error: ValidationError, line: int, column: str | None = None) -> ValidationError:
    """The same refusal, said of a line (and column) of a file: "line 12: ..." in English,
    and the line (column) among the params, which a page puts in the user's language."""
    where = f"line {line}" + (f", column {column}" if column else "")
    params = {**error.params, "line": line}
    if column:
        params["column"] = column
    return ValidationError(f"{where}: {error}", code=error.code, **params)


class NotFound(LookupError):
    """A named object does not exist (or is outside the caller's scope)."""

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params
