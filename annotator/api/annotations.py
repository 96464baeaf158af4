"""API: one annotator's spans and relations on a document (docs/design.md section 5).

Every write answers the annotation set's new ``version`` (in the body and as ``ETag``). Writes
may send ``If-Match: <version>``; a stale one gets 412. ``PUT .../annotations`` requires it
(428 without). Creates are idempotent on the client's ``id``: a replay answers 200 with the
stored object instead of 201.
"""

import re

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from annotator.errors import AnnotatorError
from annotator.schemas import AnnotationsOut
from annotator.schemas import AnnotationsPut
from annotator.schemas import AnnotationsQuery
from annotator.schemas import DeletedOut
from annotator.schemas import RelationIn
from annotator.schemas import RelationWriteOut
from annotator.schemas import SpanIn
from annotator.schemas import SpanPatch
from annotator.schemas import SpanWriteOut
from annotator.schemas import StatusIn
from annotator.schemas import StatusOut
from annotator.services import annotations

blp = Blueprint("annotations_api", __name__, description="Annotations: spans, relations, status")

_VERSION = re.compile(r'^(?:W/)?"?(\d{1,12})"?$')


def if_match() -> int | None:
    """Return the version named by the request's ``If-Match`` header, or None without one.

    :raise AnnotatorError: (400) when the header is not a version number.
    """
    value = request.headers.get("If-Match")
    if value is None:
        return None
    match = _VERSION.match(value.strip())
    if match is None:
        raise AnnotatorError("If-Match must be a version number.",
                             {"If-Match": ['Use the version from the last answer, e.g. "7".']})
    return int(match.group(1))


def _me():
    return current_user._get_current_object()


def _etag(version: int) -> dict:
    return {"ETag": f'"{version}"'}


@blp.route("/documents/<int:did>/annotations", methods=["GET"])
@blp.arguments(AnnotationsQuery, location="query")
@blp.response(200, AnnotationsOut)
def get_annotations(query, did):
    """Return one annotator's spans, relations, status and version (by default mine)."""
    result = annotations.get_annotations(_me(), did, query.get("annotator"))
    return result, _etag(result["version"])


@blp.route("/documents/<int:did>/annotations", methods=["PUT"])
@blp.arguments(AnnotationsPut)
@blp.response(200, AnnotationsOut)
def replace_annotations(data, did):
    """Replace all my spans and relations; needs If-Match with the current version."""
    result = annotations.replace_annotations(_me(), did, data, if_match())
    return result, _etag(result["version"])


@blp.route("/documents/<int:did>/spans", methods=["POST"])
@blp.arguments(SpanIn)
@blp.response(201, SpanWriteOut)
def create_span(data, did):
    """Add a span; a replay of the same id and body answers 200 with the stored span."""
    result = annotations.create_span(_me(), did, data, if_match())
    body = {**result["span"], "version": result["version"]}
    return body, (200 if result["replay"] else 201), _etag(result["version"])


@blp.route("/documents/<int:did>/spans/<sid>", methods=["PATCH"])
@blp.arguments(SpanPatch)
@blp.response(200, SpanWriteOut)
def update_span(data, did, sid):
    """Change a span's extent, label or attributes (attrs replaces the whole object)."""
    result = annotations.update_span(_me(), did, sid, data, if_match())
    return {**result["span"], "version": result["version"]}, _etag(result["version"])


@blp.route("/documents/<int:did>/spans/<sid>", methods=["DELETE"])
@blp.response(200, DeletedOut)
def delete_span(did, sid):
    """Remove a span and its relations."""
    result = annotations.delete_span(_me(), did, sid, if_match())
    return result, _etag(result["version"])


@blp.route("/documents/<int:did>/relations", methods=["POST"])
@blp.arguments(RelationIn)
@blp.response(201, RelationWriteOut)
def create_relation(data, did):
    """Link two of my spans with a relation the schema allows for their labels."""
    result = annotations.create_relation(_me(), did, data, if_match())
    body = {**result["relation"], "version": result["version"]}
    return body, (200 if result["replay"] else 201), _etag(result["version"])


@blp.route("/documents/<int:did>/relations/<rid>", methods=["DELETE"])
@blp.response(200, DeletedOut)
def delete_relation(did, rid):
    """Remove a relation."""
    result = annotations.delete_relation(_me(), did, rid, if_match())
    return result, _etag(result["version"])


@blp.route("/documents/<int:did>/status", methods=["POST"])
@blp.arguments(StatusIn)
@blp.response(200, StatusOut)
def set_status(data, did):
    """Submit, skip, or reopen (in_progress) my work on the document."""
    result = annotations.set_status(_me(), did, data["status"], if_match())
    return result, _etag(result["version"])
