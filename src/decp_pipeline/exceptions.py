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


class UnreadableInputError(DecpError):
    """Raised when a file given on the command line cannot be opened (missing, a directory, no access)."""
