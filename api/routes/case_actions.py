"""Changing cases: inspectors open manual cases and assign, verify, reject, escalate and reopen;
enterprises start, submit and comment on their own cases; everyone allowed to read a case reads
its audit trail. Every change needs a token."""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator

from alerts.accounts import Principal
from alerts.case_lifecycle import IllegalTransition
from alerts.case_models import Attachment, Case
from alerts.case_workflow import CaseConflict, CaseNotFound, CaseUpdate
from api.auth import SignedIn, require_role
from api.deps import AppContext, Context
from api.input_values import RowId, plain_text
from api.routes.cases import case_public
from api.schemas import (
    AttachmentPublic,
    AttachmentsPublic,
    CaseActionIn,
    CaseEventPublic,
    CaseEventsPublic,
    CasePublic,
    ManualCaseIn,
)

router = APIRouter(prefix="/api/cases", tags=["cases"])
STAFF = ("admin", "inspector")
# Actions the responsible enterprise may take on its own cases; the rest are the bureau's.
ENTERPRISE_ACTIONS = frozenset({"start", "submit", "comment"})
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,40}/[a-z0-9][a-z0-9!#$&^_.+-]{0,56}")


def _visible_case(ctx: AppContext, case_id: int, who: Principal) -> Case:
    case = ctx.cases.get_case(case_id)
    if case is None or not who.can_see_enterprise(case.enterprise):
        raise HTTPException(404, f"case {case_id} does not exist")
    return case


@router.post("", response_model=CasePublic, status_code=201,
             summary="Open a case from an inspection or a public complaint (inspectors)")
def open_case(body: ManualCaseIn, ctx: Context, who: SignedIn) -> CasePublic:
    require_role(who, STAFF, "open cases")
    try:
        case = ctx.workflow.open_manual(
            source=body.source, source_kind=body.source_kind, problem_type=body.problem_type,
            title=body.title, origin=body.origin, actor=who.name, now=datetime.now(UTC),
            note=body.note, category=body.category, district=body.district, grid=body.grid,
            enterprise=body.enterprise, attachments=body.attachments,
            deadline=body.deadline)
    except CaseConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return case_public(case, ctx)


@router.post("/{case_id}/actions", response_model=CasePublic,
             summary="Take an action on a case: assign, start, submit, verify, reject, "
                     "escalate, reopen, comment")
def act(case_id: RowId, body: CaseActionIn, ctx: Context, who: SignedIn) -> CasePublic:
    case = _visible_case(ctx, case_id, who)
    if who.role == "viewer":
        raise HTTPException(403, f"user {who.name} (viewer) may not change cases")
    if who.role == "enterprise" and body.action not in ENTERPRISE_ACTIONS:
        raise HTTPException(403, f"user {who.name} (enterprise) may not {body.action} a case; "
                                 f"enterprises may {', '.join(sorted(ENTERPRISE_ACTIONS))}")
    update = CaseUpdate(responsible_unit=body.responsible_unit,
                        responsible_person=body.responsible_person,
                        deadline=body.deadline, measures=body.measures)
    try:
        changed = ctx.workflow.act(case.id, body.action, actor=who.name, now=datetime.now(UTC),
                                   note=body.note, attachments=body.attachments, update=update)
    except CaseNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (IllegalTransition, CaseConflict) as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return case_public(changed, ctx)


@router.get("/{case_id}/events", response_model=CaseEventsPublic,
            summary="A case's audit trail: every action, who, when, from, to, note")
def events(case_id: RowId, ctx: Context, who: SignedIn) -> CaseEventsPublic:
    _visible_case(ctx, case_id, who)
    data = [CaseEventPublic(id=e.id, at=ctx.local(e.at), actor=e.actor, action=e.action,
                            from_status=e.from_status, to_status=e.to_status, note=e.note,
                            attachments=e.attachments, changes=e.changes)
            for e in ctx.workflow.events(case_id)]
    return CaseEventsPublic(data=data, count=len(data))


def _safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or len(base) > 255 or any(ord(c) < 32 for c in base) or base in (".", ".."):
        raise HTTPException(422, f"filename {name[:80]!r} is not a plain file name "
                                 "(1-255 characters, no path, no control characters)")
    return base


def _media_type(header: str) -> str:
    """The upload's declared Content-Type when it is a `type/subtype` (parameters kept) in at
    most 100 printable ASCII characters, else octet-stream: it is stored and sent back on
    download."""
    media = header.split(";", 1)[0].strip().lower()
    printable = len(header) <= 100 and all(" " <= c <= "~" for c in header)
    return header if printable and _MEDIA_TYPE.fullmatch(media) else "application/octet-stream"


def _attachment_public(a: Attachment, ctx: AppContext) -> AttachmentPublic:
    return AttachmentPublic(id=a.id, case_id=a.case_id, filename=a.filename,
                            content_type=a.content_type, size=a.size, sha256=a.sha256,
                            uploaded_by=a.uploaded_by, uploaded_at=ctx.local(a.uploaded_at))


@router.post("/{case_id}/attachments", response_model=AttachmentPublic, status_code=201,
             summary="Upload an evidence file (the request body is the file)",
             openapi_extra={"requestBody": {"content": {"application/octet-stream": {}},
                                            "required": True}})
async def upload(case_id: RowId, request: Request, ctx: Context, who: SignedIn,
                 filename: Annotated[str, Query(description="the file's name")],
                 note: Annotated[str, Query(max_length=4000),
                                 AfterValidator(plain_text)] = "") -> AttachmentPublic:
    case = _visible_case(ctx, case_id, who)
    if who.role == "viewer":
        raise HTTPException(403, f"user {who.name} (viewer) may not upload evidence")
    name = _safe_filename(filename)
    limit = ctx.settings.cases.max_attachment_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"file of {declared} bytes is larger than the {limit} allowed")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"file larger than the {limit} bytes allowed")
    if not data:
        raise HTTPException(422, "the request body (the file) is empty")
    content_type = _media_type(request.headers.get("content-type", ""))
    attachment = await run_in_threadpool(
        ctx.workflow.add_attachment, case.id, filename=name, content_type=content_type,
        data=bytes(data), actor=who.name, now=datetime.now(UTC), note=note)
    return _attachment_public(attachment, ctx)


@router.get("/{case_id}/attachments", response_model=AttachmentsPublic,
            summary="A case's evidence files")
def list_attachments(case_id: RowId, ctx: Context, who: SignedIn) -> AttachmentsPublic:
    _visible_case(ctx, case_id, who)
    data = [_attachment_public(a, ctx) for a in ctx.workflow.attachments(case_id)]
    return AttachmentsPublic(data=data, count=len(data))


@router.get("/{case_id}/attachments/{attachment_id}", response_class=Response,
            summary="Download an evidence file")
def download(case_id: RowId, attachment_id: RowId, ctx: Context, who: SignedIn) -> Response:
    _visible_case(ctx, case_id, who)
    try:
        attachment, data = ctx.workflow.attachment_data(case_id, attachment_id)
    except CaseNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    quoted = urllib.parse.quote(attachment.filename)
    return Response(data, media_type=attachment.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
        "X-Content-SHA256": attachment.sha256})
