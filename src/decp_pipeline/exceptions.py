"""The project's one error hierarchy. The library raises these; the command line renders them, once.

Every class carries the exit code of `decp` when such an error stops a command (docs/cli.md, "Errors", lists
them; tests/test_exceptions.py checks that the table and this module agree). The codes are the contract's:
`1` the command ran but something is wrong, `2` usage or configuration error, or an input given on the command
line that cannot be used. The command line's group (cli/__init__.py) prints `Error: <message>`, one line on
stderr, and exits with `exit_code`: no command catches a DecpError itself, and none shows a traceback.

Most of these errors never reach the command line: a malformed file or a failed download is counted in the
results of its source, and the run goes on. Their exit code tells what happens when one does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from decp_pipeline.redaction import redact

EXIT_FAILED = 1  # the command ran but something is wrong
EXIT_USAGE = 2  # usage or configuration error, or an input given on the command line that cannot be used
GONE_STATUSES = frozenset({404, 410})  # HTTP statuses saying that a resource no longer exists


class DecpError(Exception):
    """Base class of every error the pipeline reports to a user instead of a traceback.

    Raised as such by `pipeline.assemble.assemble` when a reused source's cached result is gone from the data dir.
    """

    exit_code: ClassVar[int] = EXIT_FAILED


# -- usage and configuration: exit 2 ---------------------------------------------------------------------------


class ConfigError(DecpError):
    """Raised by `config.load_config` (and `parse_config`) when sources.yaml is unreadable or breaks its rules,
    and by `Config.get` for an unknown source id.

    Carries every problem found, so that a user fixes the file in one go.
    """

    exit_code = EXIT_USAGE

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # pickled whole (worker processes)
        return type(self), (self.path, self.problems)


class InputError(DecpError):
    """An input given on the command line cannot be used: raised by `pipeline.run.parse_inputs` for a
    `--input` that is not SOURCE_ID=PATH or whose path does not exist; by `publish.publication` for a missing API
    key or dataset, a dataset that does not exist, a key the API refuses.
    """

    exit_code = EXIT_USAGE


class DataDirError(DecpError):
    """Raised by `fetch.store.Store` when the data dir cannot be used: not writable, locked by another run,
    state written by a newer version, a broken state database."""

    exit_code = EXIT_USAGE


# -- the command ran, something is wrong: exit 1 ---------------------------------------------------------------


class MalformedFileError(DecpError):
    """A file is not DECP data that can be read: not well-formed JSON or XML, refused (an XML DTD), or of a
    shape the pipeline does not read. The readers raise its subclasses; `decp validate` and `decp build` count
    it against the file (an invalid file, a failed file) and go on.

    `line` and `column` are 1-based and locate the fault as precisely as the parser allows (None: unknown).
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), (self.message, self.line, self.column)


class NotDecpDataError(MalformedFileError):
    """Raised by `detect.sniff_syntax`: the file is neither JSON nor XML (an archive, an HTML page, plain text,
    an empty or UTF-16 file)."""


class JsonSyntaxError(MalformedFileError):
    """Raised by `readers.json_stream`: the file is not well-formed JSON (or nests too deeply to be parsed
    safely); `offset` is the byte offset of the fault."""

    def __init__(self, message: str, line: int, column: int, offset: int) -> None:
        super().__init__(message, line, column)
        self.offset = offset

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), (self.message, self.line, self.column, self.offset)


class XmlSyntaxError(MalformedFileError):
    """Raised by `readers.xml_stream.XmlReader`: the file is not well-formed XML, or is refused (it declares a
    DTD)."""


class FileReadError(MalformedFileError):
    """Raised by `readers.records.RecordFile`: the file holds no DECP records in a shape the pipeline reads."""


class FetchError(DecpError):
    """Raised by the HTTP layer (`fetch.http`): a URL could not be fetched. `gone` is true when the server says
    the resource no longer exists. The fetch runner records it against its source and goes on."""

    def __init__(self, url: str, reason: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(redact(f"{url}: {reason}"))
        self.url = url
        self.reason = reason
        self.status = status
        self.retryable = retryable
        self.answer = ""  # the start of the body of an error answer (an API's explanation of a 4xx)

    @property
    def reason(self) -> str:
        """Why, in words, without any secret the tool was given (a server may echo a key: redaction.py)."""
        return redact(self._reason)

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value

    def __str__(self) -> str:
        return redact(f"{self.url}: {self._reason}")  # the reason grows as retries are made

    @property
    def gone(self) -> bool:
        return self.status in GONE_STATUSES


class OfflineError(FetchError):
    """Raised by `fetch.http.HttpClient` when a request is attempted in --offline mode."""


class CacheWriteError(DecpError):
    """Raised by `pipeline.stage.SourceStage` (decp build): the result of a file cannot be written in the data
    dir (a full disk, a folder that cannot be written). The build stops: every other file would fail alike."""

    def __init__(self, data_dir: str, path: str, reason: str) -> None:
        super().__init__(
            f"{data_dir}: the result of {path} cannot be written in the data dir ({reason}); free some space, or "
            "give another --data-dir"
        )
        self.args_ = (data_dir, path, reason)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # raised in worker processes
        return type(self), self.args_


class ReleaseError(DecpError):
    """Raised by `pipeline.delta.compare` (decp diff, and the delta of a build): a kept release cannot be read
    (its index.parquet or a record line of its decp.json is damaged or missing). A build then writes its delta
    against no release, with a warning; `decp diff` stops with this error."""


class PublishError(DecpError):
    """Raised by `publish.publication` (decp publish): the release cannot be published as it is (no current
    release, a damaged one, one built past the shrink guard) or the dataset cannot be read; nothing was uploaded.
    Usage and configuration problems (no API key, no dataset id) are a ConfigError."""


class CatalogError(DecpError):
    """Raised by `fetch.kinds.dcat.parse_catalog`: a DCAT catalogue cannot be read (not well-formed RDF/XML or
    Turtle, or it declares a DTD). The dcat kind records it against its source and goes on."""


class ReferenceDataError(DecpError):
    """Raised by `references.convert.normalize` (decp build): a reference file (CPV, COG, SIRENE) cannot be
    read or is not of a shape it accepts. `references.prepare_references` catches it: the reference is left
    out with one warning, and the build goes on."""


class ShrinkError(DecpError):
    """Raised by `pipeline.assemble.assemble`: the new outputs would hold far fewer contracts than the previous
    ones (more than `build.max_shrink` fewer); they were not published and the previous ones stay."""


class OutputError(DecpError):
    """Raised by `pipeline.assemble.assemble` and `decp build`: the outputs could not be written in --out (a full
    disk, a folder that cannot be created or written, a file in the way); the outputs in place were kept."""


class SignalError(DecpError):
    """Raised in the main process by the SIGTERM handler of `decp` (cli/__init__.py): the run stops, its
    worker processes and its temporary files go, and what was published stays whole (pipeline/release.py)."""

    def __init__(self, signal_name: str, command: str | None = None) -> None:
        what = {
            "build": ": the current release is whole (the one before this run, unless this run had made its own "
            "current)",
            "fetch": ": the downloads under way were cancelled, the last good copies kept",
        }
        super().__init__(f"stopped by {signal_name}" + what.get(command or "", ""))


# -- decp serve: answers to one request, never an exit of the command -----------------------------------------


class ServeError(DecpError):
    """Raised by `decp serve` (cli/serve.py) when the server cannot start: the address cannot be listened on
    (the port is taken, the host is not this machine's). uvicorn's ERROR line before it says why."""


class UploadError(DecpError):
    """Raised by `serve.upload.receive`: the request carries no file the service can read (a multipart body
    without a `file` field, a broken multipart body, an unknown `schema_version`). The service answers 400
    with the message; a file itself, whatever its bytes, is never this error but the validator's to judge."""


class UploadTooLargeError(UploadError):
    """Raised by `serve.upload.receive`: the upload is larger than `--max-upload-mb` (by its Content-Length,
    or counted while it streams in). The service answers 413 before reading the rest."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than the limit of {limit:,} bytes")
        self.limit = limit


class ValidationTimeoutError(DecpError):
    """Raised in a worker of `decp serve` by `serve.worker.validate_upload`'s alarm, and by
    `serve.worker.ValidationPool.run` when a worker does not answer in time: the file took longer than the
    per-request limit. The service answers 503 with the limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the validation took longer than the limit of {seconds:g} s")
        self.seconds = seconds

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # raised in worker processes
        return type(self), (self.seconds,)


class WorkerLostError(DecpError):
    """Raised by `serve.worker.ValidationPool.run`: the worker validating an upload died (killed, out of
    memory) before it answered. The pool is replaced; the service answers 503, the file was not judged."""

    def __init__(self) -> None:
        super().__init__("the validation worker stopped before it answered; send the file again")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), ()
