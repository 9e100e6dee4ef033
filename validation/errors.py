"""Errors meant for people: one line, what is wrong and what to do."""


class UserError(Exception):
    """A problem the operator can fix; the CLI prints it and exits non-zero.

    `exit_code` is 2 for bad input (arguments, config, model) and 1 for an
    environment or runtime failure (a service that will not start, ...).
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class BadInput(UserError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=2)
