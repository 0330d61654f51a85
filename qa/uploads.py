"""Safe changes to the docs folder: sanitised names, atomic writes, a trash instead of deletes.

In: the docs folder, a file name as a client sent it, the bytes; or a doc_id to remove. Out:
`safe_name(filename)` (a plain name that stays inside the folder), `write_file(folder, name,
data, replace)` (temporary hidden file, fsync, then link or rename into place: a reader never
sees half a file) and `move_to_trash(folder, doc_id)` (the file goes to `.trash/<time>/doc_id`
inside the folder, so a mistake can be undone by moving it back).

The scan (`qa.documents.scan`) ignores hidden names, so neither the temporary `.upload-*`
files nor `.trash/` are ever indexed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

TRASH = ".trash"
MAX_NAME_CHARS = 120
# Names Windows reserves: a file called so cannot be copied to a Windows share.
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(10)}


class NameRefused(ValueError):
    """A file name that cannot be made into a safe name (nothing usable left)."""


class AlreadyExists(FileExistsError):
    """The docs folder already holds a file of that name, and replacing was not asked for."""


def safe_name(filename: str) -> str:
    """The name a file sent as `filename` gets in the docs folder: the last path component
    only (`..`, `/`, `\\` and drive letters cannot lead out), Unicode normalised (NFC),
    characters other than letters, digits, `.`, `-`, `_` and spaces turned into `_`, no
    leading dots (no hidden files) or trailing dots and spaces, at most `MAX_NAME_CHARS`
    characters with the extension kept (lower-cased). Raises `NameRefused`, saying why,
    when the part before the extension has no letter or digit (`😀.txt`, `....txt`: the
    file would be hidden or nameless) or is a name Windows reserves (`con.txt`)."""
    base = unicodedata.normalize("NFC", filename).replace("\\", "/").split("/")[-1]
    base = base.split(":")[-1]  # C:name, and NTFS streams
    stem, dot, suffix = base.rpartition(".")
    if not dot or not re.fullmatch(r"\w{1,10}", suffix, re.ASCII):
        stem, suffix = base, ""
    suffix = f".{suffix.lower()}" if suffix else ""
    stem = re.sub(r"[^\w.\- ]", "_", stem)
    stem = re.sub(r"\s+", " ", stem)
    stem = re.sub(r"_{2,}", "_", stem).strip(" ._")
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip(" .")
    if not re.search(r"[^\W_]", stem):
        raise NameRefused(
            f"the name {filename!r} has no letter or digit before its extension (names are "
            "made of letters, digits, spaces, '.', '-' and '_', and may not start with a dot); "
            f"rename it, for example to document{suffix or '.txt'}"
        )
    if stem.lower() in _RESERVED:
        raise NameRefused(
            f"the name {filename!r} is reserved on Windows ({stem}); rename the file, "
            f"for example to {stem}-1{suffix}"
        )
    return stem + suffix


def write_file(folder: Path, name: str, data: bytes, replace: bool = False) -> Path:
    """Write `data` as `folder/name` atomically and durably; returns the path.

    The bytes go to a hidden temporary file in `folder`, which is fsynced and then linked
    (no `replace`: fails with `AlreadyExists` if the name is taken, even by a concurrent
    upload) or renamed (`replace`) into place; the folder is fsynced after. `name` must be
    a `safe_name`. A replaced file's previous version is kept in the trash."""
    folder = Path(folder).resolve()
    target = _inside(folder, name)
    if name != safe_name(name) or target.parent != folder:
        raise NameRefused(f"{name!r} is not a plain file name")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise AlreadyExists(f"{name} exists and is not a regular file; it is left alone")
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o644)
        if replace:
            if target.exists():
                _keep_copy(folder, name)
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
        _fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def move_to_trash(folder: Path, doc_id: str) -> Path:
    """Move the file `doc_id` (a path relative to `folder`) to `.trash/<UTC time>/doc_id`
    inside `folder`; returns where it went. Raises FileNotFoundError when there is no such
    file and ValueError for a doc_id that leaves the folder."""
    folder = Path(folder).resolve()
    source = _inside(folder, doc_id)
    if not source.is_file() and not source.is_symlink():
        raise FileNotFoundError(f"no file {doc_id!r} in the docs folder")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    destination = folder / TRASH / stamp / doc_id
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, destination)
    _fsync_dir(source.parent)
    _fsync_dir(destination.parent)
    return destination


def _inside(folder: Path, relative: str) -> Path:
    """`folder / relative`, refusing any path that leaves `folder` (`..`, absolute, the
    trash itself)."""
    parts = relative.split("/")
    if (
        not relative
        or "\x00" in relative
        or "\\" in relative
        or relative.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or parts[0] == TRASH
    ):
        raise ValueError(f"{relative!r} is not a path inside the docs folder")
    path = folder / relative
    if not path.parent.resolve().is_relative_to(folder):
        raise ValueError(f"{relative!r} leads outside the docs folder")
    return path


def _link_new(tmp: Path, target: Path) -> None:
    """Give `tmp` the name `target` unless `target` exists (atomic where links work)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise AlreadyExists(f"{target.name} already exists in the docs folder") from None
    except OSError:  # a filesystem without hard links: check, then rename
        if target.exists():
            raise AlreadyExists(f"{target.name} already exists in the docs folder") from None
        os.rename(tmp, target)


def _keep_copy(folder: Path, name: str) -> None:
    """Keep the version of `name` about to be replaced in the trash (a hard link, or a
    move when links are not supported)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    destination = folder / TRASH / stamp / name
    destination.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # the replace goes ahead; only the undo copy is missing
        os.link(folder / name, destination)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
