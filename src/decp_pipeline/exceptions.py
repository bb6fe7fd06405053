"""The project's exceptions. The library raises them; the command line turns them into messages."""


class DecpError(Exception):
    """Base class of every error the pipeline reports to a user instead of a traceback."""


class ConfigError(DecpError):
    """Raised by `config.load_sources` when sources.yaml is unreadable or breaks its rules.

    Carries every problem found, so that a user fixes the file in one go.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class MalformedFileError(DecpError):
    """Raised by the readers when a file is not well-formed JSON or XML, or is refused (an XML DTD).

    `line` and `column` are 1-based and locate the fault as precisely as the parser allows.
    """

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
