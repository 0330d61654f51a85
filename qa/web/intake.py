"""Uploads as they arrive over HTTP: the multipart form read, every file checked, then stored.

In: a multipart request (`read_files`: its files as (filename, bytes) and its other fields;
415 when it is not multipart, 413 when it holds more than `MAX_FILES` files); the service (its
docs folder and file size limit) and those files (`store_uploads`). Out: one `Outcome` a file:
saved under its safe name (maybe replacing an older file), or refused with a status and
why. Every file is checked (name, type, size, readable text, name taken) before any is
written; the good ones are then written atomically by `qa.uploads`, which owns the docs
folder's names, writes and trash. `upload_body(outcomes)` and `refusal(outcomes)` say what
became of them, as JSON and as one message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import documents
from qa.documents import SUPPORTED_SUFFIXES
from qa.file_worker import check_content
from qa.uploads import AlreadyExists, NameRefused, safe_name, write_file
from qa.web.service import Service

MAX_FILES = 10  # files per upload request
TOO_MANY_FILES = f"too many files: at most {MAX_FILES} per upload; send the others in another"


@dataclass(frozen=True)
class Outcome:
    """What became of one uploaded file: `saved` as `doc_id` (`replaced` an older file), or
    refused with `status` and `reason`."""

    filename: str
    doc_id: str | None = None
    saved: bool = False
    replaced: bool = False
    status: int = 200
    reason: str = ""


def store_uploads(service: Service, files: list[tuple[str, bytes]], replace: bool) -> list[Outcome]:
    """Check every (filename, bytes) first, then write the good ones atomically into the
    docs folder under their safe names. A name already in the folder (or twice in this
    request) is refused unless `replace`; a refused file is never written."""
    folder = service.assistant.settings.docs_dir
    checked = [_check_upload(folder, name, data, replace, service) for name, data in files]
    seen: set[str] = set()
    outcomes = []
    for (name, data), outcome in zip(files, checked, strict=True):
        if outcome.status == 200 and outcome.doc_id in seen:
            outcome = Outcome(name, status=409, reason="sent twice in this request")
        if outcome.status == 200 and outcome.doc_id:
            seen.add(outcome.doc_id)
            outcome = _write(folder, outcome, data, replace)
        outcomes.append(outcome)
    return outcomes


def _check_upload(
    folder: Path, filename: str, data: bytes, replace: bool, service: Service
) -> Outcome:
    """An `Outcome` that is either refused (why) or ready to write (status 200, doc_id)."""
    try:
        name = safe_name(filename)
    except NameRefused as exc:
        return Outcome(filename, status=422, reason=str(exc))
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return Outcome(filename, name, status=415, reason=unsupported(name, suffix))
    max_bytes = service.assistant.settings.max_bytes
    if len(data) > max_bytes:
        return Outcome(filename, name, status=413, reason=too_large(len(data), max_bytes))
    problem = check_content(name, data, max_bytes)
    if problem:
        status = 413 if "too large" in problem else 415 if "unsupported" in problem else 422
        return Outcome(filename, name, status=status, reason=problem)
    target = folder / name
    if target.exists() or target.is_symlink():
        if not replace:
            return Outcome(
                filename, name, status=409,
                reason=f"{name} already exists; tick 'replace' (replace=true) to overwrite it",
            )  # fmt: skip
        if target.is_symlink() or not target.is_file():
            return Outcome(filename, name, status=409, reason=f"{name} is not a regular file")
    return Outcome(filename, name)


def unsupported(name: str, suffix: str) -> str:
    """Why `name` is refused for its type, with the types that are accepted."""
    accepted = ", ".join(SUPPORTED_SUFFIXES)
    if not suffix:
        return f"unsupported file type: {name} has no extension; accepted: {accepted}"
    return f"unsupported file type {suffix}; accepted: {accepted}"


def too_large(size: int, max_bytes: int) -> str:
    """Why a file of `size` bytes is refused, in the page's unit (1 MB = 1024 x 1024 bytes)."""
    return documents.too_large(size, max_bytes).replace(
        "(QA_MAX_FILE_MB)", "(QA_MAX_FILE_MB on the server)"
    )


def _write(folder: Path, outcome: Outcome, data: bytes, replace: bool) -> Outcome:
    name = outcome.doc_id or ""
    existed = (folder / name).exists()
    try:
        write_file(folder, name, data, replace)
    except AlreadyExists as exc:  # taken meanwhile, by a concurrent upload
        return Outcome(outcome.filename, name, status=409, reason=str(exc))
    except (OSError, ValueError) as exc:
        return Outcome(outcome.filename, name, status=422, reason=f"cannot write {name}: {exc}")
    return Outcome(outcome.filename, name, saved=True, replaced=existed and replace)


async def read_files(request: Request) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """The uploaded files (name, bytes) and the other fields of a multipart request; 415 for
    any other body, 413 for more than `MAX_FILES` files, 422 for none."""
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise HTTPException(
            415, "send the files as multipart/form-data (curl -F files=@report.pdf ...)"
        )
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=20)
    except StarletteHTTPException as exc:  # Starlette's 400 for a form over its limits
        if "files" in str(exc.detail).lower():
            raise HTTPException(413, TOO_MANY_FILES) from None
        raise
    files, fields = [], {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if value.filename:  # a file input left empty sends a nameless part
                files.append((value.filename, await value.read()))
        else:
            fields[key] = value
    if len(files) > MAX_FILES:  # the form's limit counts nameless parts too; kept for safety
        raise HTTPException(413, TOO_MANY_FILES)
    return files, fields


def upload_body(outcomes: list[Outcome]) -> dict[str, Any]:
    saved = [{"filename": o.filename, "doc_id": o.doc_id, "replaced": o.replaced}
             for o in outcomes if o.saved]  # fmt: skip
    rejected = [{"filename": o.filename, "status": o.status, "reason": o.reason}
                for o in outcomes if not o.saved]  # fmt: skip
    return {"saved": saved, "rejected": rejected, "rebuild": "queued" if saved else None}


def refusal(outcomes: list[Outcome]) -> str:
    """One message naming every refused file and why."""
    refused = [f"{o.filename}: {o.reason}" for o in outcomes if not o.saved]
    return "nothing was saved; " + "; ".join(refused)
