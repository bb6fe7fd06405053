"""Publishing the current release: its files as resources of one data.gouv.fr dataset, each sent once.

    plan      the release checked (whole against its manifest, not built past the shrink guard), each file's
              sha1 compared with its resource's (matched by title: the file name, or the slug udata gives it)
    run       each changed file uploaded (replacing its resource in place, or creating one), its title and
              description set; an upload that fails after retries fails that file, not the others
    record    publication.json in the release: the resources, their checksums, what was done and when

A creation is never sent twice blindly: when its answer is lost, the dataset is read again, and a resource
already holding the file is taken as the one created.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from decp_pipeline.exceptions import FetchError, InputError, PublishError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.ocds.archive import zip_folder
from decp_pipeline.pipeline.release import Releases, damage, folder_summary, read_manifest
from decp_pipeline.publish.describe import describe, slug
from decp_pipeline.publish.settings import DERIVED_FILES, PublishSettings
from decp_pipeline.publish.udata import Advance, Udata

PUBLICATION = "publication.json"
REBUILD = "rebuild it: run the same `decp build` command again with --verify"
REFUSED = frozenset({401, 403})  # the key is wrong, or may not write this dataset: no other request will do
Bar = Callable[[str, int], Advance | None]  # (file name, size) → a callback advancing a progress bar, or None


@dataclass
class Item:
    """One file of the release and its resource."""

    name: str
    size: int
    sha1: str
    action: str  # create, replace, unchanged
    resource: str | None = None  # its id on the dataset
    url: str | None = None
    meta: dict[str, str] = field(default_factory=dict)  # the title and description to set (when they differ)
    done: str = ""  # created, replaced, unchanged, updated (metadata only), failed
    error: str | None = None


@dataclass
class Publication:
    release: str
    dataset: str
    api_base: str
    dry_run: bool
    items: list[Item]
    started_at: str
    finished_at: str = ""
    requests: int = 0
    refused: str | None = None  # why the API refused the key (exit 2)

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items if i.done == "failed"]

    def document(self) -> dict[str, Any]:
        run = {k: v for k, v in asdict(self).items() if k not in ("items", "release", "dataset", "api_base")}
        run["resources"] = {
            i.name: {"id": i.resource, "url": i.url, "sha1": i.sha1, "size": i.size, "done": i.done or i.action,
                     "error": i.error}
            for i in self.items
        }  # fmt: skip
        return {"release": self.release, "dataset": self.dataset, "api_base": self.api_base, **run}


def publish(
    out: Path,
    settings: PublishSettings,
    key: str | None,
    client: HttpClient,
    *,
    dry_run: bool = False,
    force: bool = False,
    bar: Bar | None = None,
) -> Publication:
    """Publish the current release of `out` (or, with `dry_run`, say what would be sent: no write request)."""
    if not settings.dataset:
        raise InputError("no dataset to publish to: give --dataset ID, or publish: {dataset: ID} in sources.yaml")
    if not key and not dry_run:
        raise InputError("DECP_DATAGOUV_API_KEY is not set (or empty): the data.gouv.fr API key comes from this "
                         "environment variable only; nothing was sent")  # fmt: skip
    release = _release(out, force)
    manifest = read_manifest(release) or {}
    report = json.loads((release / "report.json").read_text(encoding="utf-8"))
    folders = manifest.get("folders") or {}
    names = settings.files
    if not settings.files_given:  # an optional output the release was built without is not sent
        names = tuple(n for n in names if n not in DERIVED_FILES or DERIVED_FILES[n] in folders)
    derived = _check_files(release, names, manifest)  # before any request
    started = _now()
    udata = Udata(client, settings.api_base, settings.dataset, key or "")  # a dry run without key reads only
    remote = _remote(udata, settings.dataset)
    _make_derived(release, derived)
    local = _local_files(release, names, manifest)
    items = [_plan(name, size, sha1, remote, describe(name, manifest, report, settings.documentation))
             for name, (size, sha1) in local.items()]  # fmt: skip
    publication = Publication(release.name, settings.dataset, settings.api_base, dry_run, items, started)
    if not dry_run:
        _run(publication, udata, release, bar)
    publication.finished_at = _now()
    publication.requests = client.traffic.requests
    if not dry_run:
        _record(release, publication)
    return publication


def _release(out: Path, force: bool) -> Path:
    """The current release, whole, and not built past the shrink guard (unless `force`)."""
    releases = Releases(out)
    release = releases.current()
    if release is None:
        raise PublishError(f"{out}/: no current release to publish: run `decp build` first")
    if problems := damage(release):
        raise PublishError(f"release {release.name} is damaged ({'; '.join(problems)}): nothing was published; "
                           f"{REBUILD}")  # fmt: skip
    guard = (read_manifest(release) or {}).get("shrink_guard") or {}
    if guard.get("forced") and not force:
        raise PublishError(f"release {release.name} was built with --force past the shrink guard ({guard.get('why')}): "
                           "nothing was published; check it, then publish it with `decp publish --force`")  # fmt: skip
    return release


def _check_files(release: Path, names: tuple[str, ...], manifest: dict[str, Any]) -> dict[str, str]:
    """Raise unless the release holds every file of `names` (a file made when publishing: its folder, whole
    against the manifest); the files to make, with the sha256 of their folder."""
    files, folders = manifest.get("files", {}), manifest.get("folders") or {}
    missing = [n for n in names if n not in files and n not in DERIVED_FILES]
    if missing:
        raise InputError(f"publish: key 'files': {', '.join(missing)} not in release {release.name} "
                         f"(it has: {', '.join(sorted(files))})")  # fmt: skip
    derived = {}
    for name in (n for n in names if n in DERIVED_FILES):
        folder = DERIVED_FILES[name]
        if folder not in folders:
            raise InputError(f"publish: key 'files': {name} is made from {folder}/, which release {release.name} "
                             "does not have (built with outputs: {" + folder + ": false})")  # fmt: skip
        derived[name] = folder_summary(release / folder).get("sha256", "")
        if derived[name] != folders[folder].get("sha256"):
            raise PublishError(f"release {release.name} is damaged ({folder}/: its sha256 differs from the "
                               f"manifest's): nothing was published; {REBUILD}")  # fmt: skip
    return derived


def _make_derived(release: Path, derived: dict[str, str]) -> None:
    """ocds.zip into the release, from its ocds/ folder (the same bytes for the same folder); kept, with the
    sha256 of the folder it was made from beside it, for the next publication of the release."""
    for name, source in derived.items():
        stamp = release / f".{name}.source"
        if (release / name).is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == source:
            continue
        temporary = release / f".{name}.{os.getpid()}.tmp"
        try:
            zip_folder(release / DERIVED_FILES[name], temporary)
            os.replace(temporary, release / name)
            stamp.write_text(source, encoding="utf-8")
        finally:
            temporary.unlink(missing_ok=True)


def _local_files(release: Path, names: tuple[str, ...], manifest: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Each file to publish: its size and sha1, read once (its sha256 checked against the manifest on the way;
    a file made when publishing has none there)."""
    files = manifest.get("files", {})
    local = {}
    for name in names:
        sha1, sha256 = hashlib.sha1(usedforsecurity=False), hashlib.sha256()
        with open(release / name, "rb") as f:
            while chunk := f.read(1 << 20):
                sha1.update(chunk)
                sha256.update(chunk)
        if name in DERIVED_FILES:
            local[name] = ((release / name).stat().st_size, sha1.hexdigest())
            continue
        if sha256.hexdigest() != files[name].get("sha256"):
            raise PublishError(f"release {release.name} is damaged ({name}: its sha256 differs from the manifest's): "
                               f"nothing was published; {REBUILD}")  # fmt: skip
        local[name] = (files[name]["size"], sha1.hexdigest())
    return local


def _remote(udata: Udata, dataset: str) -> list[dict[str, Any]]:
    try:
        answer = udata.dataset()
    except FetchError as e:
        if e.status in (404, 410):
            raise InputError(
                f"no dataset {dataset!r} at {udata.base}/ (HTTP {e.status}): check the dataset id "
                "(--dataset, or publish.dataset in sources.yaml) and the API (--api-base)"
            ) from None
        if e.status in REFUSED:
            raise InputError(f"{e}: check DECP_DATAGOUV_API_KEY") from None
        raise PublishError(f"the dataset cannot be read: {e}; nothing was published") from None
    return [r for r in answer["resources"] if isinstance(r, dict) and isinstance(r.get("id"), str)]


def _plan(name: str, size: int, sha1: str, remote: list[dict[str, Any]], description: str) -> Item:
    """What to do with one file: nothing if its resource holds it already (and says what it should)."""
    resource = _match(name, remote)
    if resource is None:
        return Item(name, size, sha1, "create", meta={"title": name, "description": description})
    checksum = resource.get("checksum") or {}
    same = isinstance(checksum, dict) and checksum.get("type") == "sha1" and checksum.get("value") == sha1
    wanted = {"title": name, "description": description}
    meta = {k: v for k, v in wanted.items() if resource.get(k) != v} if same else wanted
    return Item(name, size, sha1, "unchanged" if same else "replace", resource["id"], resource.get("url"), meta)


def _match(name: str, remote: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The dataset's resource for the file `name`: titled `name` (as publishing sets it), else titled as udata
    titles an uploaded file; the first one listed if several are."""
    for title in dict.fromkeys((name, slug(name))):
        for resource in remote:
            if resource.get("title") == title:
                return resource
    return None


def _run(publication: Publication, udata: Udata, release: Path, bar: Bar | None) -> None:
    for item in publication.items:
        if publication.refused:
            if item.action == "unchanged" and not item.meta:
                item.done = "unchanged"  # on the dataset already: nothing to send
            else:
                item.done, item.error = "failed", "not sent: the API refused the key"
            continue
        try:
            _send(item, udata, release, bar)
        except FetchError as e:
            item.done, item.error = "failed", str(e)
            if e.status in REFUSED:
                publication.refused = str(e)


def _send(item: Item, udata: Udata, release: Path, bar: Bar | None) -> None:
    advance = bar(item.name, item.size) if bar else None
    if item.action == "replace":
        answer = udata.upload(release / item.name, item.name, item.resource, advance)
        item.done = "replaced"
    elif item.action == "create":
        answer = _create(item, udata, release, advance)
        item.done = "created"
    else:
        answer, item.done = {}, "unchanged"
    if isinstance(answer, dict) and answer.get("id"):
        item.resource, item.url = answer["id"], answer.get("url", item.url)
    if item.meta and item.resource:
        udata.update(item.resource, item.meta)
        if item.done == "unchanged":
            item.done = "updated"


def _create(item: Item, udata: Udata, release: Path, advance: Advance | None) -> Any:
    """A new resource from the file; after a lost answer, the dataset is read before trying again."""
    attempt = 0
    while True:
        try:
            return udata.upload(release / item.name, item.name, None, advance)
        except FetchError as e:
            if not e.retryable or attempt >= udata.client.settings.retries:
                raise
            attempt += 1
            made = [r for r in udata.dataset()["resources"] if isinstance(r, dict) and _holds(r, item)]
            if made:
                return made[0]
            udata.client.wait_before_retry(e.url, attempt, e)


def _holds(resource: dict[str, Any], item: Item) -> bool:
    checksum = resource.get("checksum") or {}
    return resource.get("title") in (item.name, slug(item.name)) and checksum.get("value") == item.sha1


def _record(release: Path, publication: Publication) -> None:
    """publication.json in the release (written whole, then renamed): every run that sent something."""
    path = release / PUBLICATION
    try:
        runs = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
    except (OSError, ValueError, AttributeError):
        runs = []
    document = {"release": publication.release, "runs": [*runs, publication.document()]}
    temporary = release / f".{PUBLICATION}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
