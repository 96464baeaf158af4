"""What the OpenAPI document says of particular blueprints and endpoints, beyond their decorators.

Tables keyed by blueprint (``auth_api``) or endpoint (``auth_api.create_token``), read by the
plugin of :mod:`annotator.api.openapi`: the tags, the errors and other answers only the
services know, the bodies that are not JSON, the parameters' descriptions and the links
between operations. A new blueprint needs a tag here; a new endpoint, only the entries its
answers call for.
"""

# Blueprint name -> the tag people read, in the order the document lists them.
TAGS = {
    "auth_api": ("Authentication", "Bearer tokens and who is asking."),
    "users_api": ("Users", "Accounts, for admins (there is no self-registration)."),
    "projects_api": ("Projects", "Projects, their members and their progress."),
    "documents_api": ("Documents", "Import, list and read documents."),
    "assignments_api": ("Assignments", "Who annotates what: assignments, my queue, my next document."),
    "annotations_api": ("Annotations", "One annotator's spans, relations and status on a document, "
                        "versioned (ETag / If-Match)."),
    "export_api": ("Export", "Annotations as training data (admins)."),
}

# Bodies that must name at least one field (an empty one is 422), which a marshmallow schema
# of optional fields cannot say.
NON_EMPTY_BODIES = {"users_api.update_user"}

# Blueprints whose writes take If-Match and whose answers carry the version as ETag.
VERSIONED = {"annotations_api"}
# Writes that refuse to run without If-Match (428).
IF_MATCH_REQUIRED = {"annotations_api.replace_annotations"}

# What only the services know, by endpoint: code -> when it is answered (or a pair of that and
# the response's headers, where they differ from the code's usual ones).
DOMAIN_ERRORS = {
    "auth_api.create_token": {
        # The login itself is not a challenge to authenticate otherwise: no WWW-Authenticate.
        401: ("Wrong username or password (or the account is deactivated).", {}),
        429: "Too many failed logins for this account, or from this address; see Retry-After.",
    },
    "users_api.create_user": {409: "The username is taken (case does not matter)."},
    "users_api.update_user": {
        404: "No user has this name.",
        409: "You cannot deactivate or demote yourself, nor the last active admin.",
        422: "Nothing to change (an empty body), an unknown role or a weak password.",
    },
    "users_api.unlock_user": {404: "No user has this name."},
    "projects_api.create_project": {409: "A project with this name exists."},
    "projects_api.update_project": {
        409: "The name is taken, or the new schema would orphan stored annotations (each "
             "orphan is listed under errors.schema).",
    },
    "projects_api.add_members": {422: "Some usernames do not exist (listed under errors.usernames)."},
    "projects_api.remove_member": {404: "No such project, or the user is not a member of it."},
    "assignments_api.assign_documents": {
        422: "An annotator is unknown, inactive or not a member; a document is not in the "
             "project; or there are fewer annotators than per_document.",
    },
    "assignments_api.reassign": {
        422: "The new annotator is unknown, inactive, not a member or already assigned.",
    },
    "assignments_api.next_document": {
        403: "Dynamic assignment: only the project's members take documents from it.",
    },
    "annotations_api.get_annotations": {
        404: "No such document for you, or the annotator has no work on it.",
    },
    "annotations_api.replace_annotations": {
        409: "The document is submitted or skipped: reopen it (status in_progress) first.",
        422: "A span or relation is not valid (errors keyed spans.3.end, relations.0.label).",
    },
    "annotations_api.create_span": {
        409: "The id belongs to a different span, or the document is submitted or skipped.",
        422: "The offsets are past the text or inside a character, the label or an attribute "
             "is not in the project's schema, the text does not match, or the span breaks the "
             "overlap policy.",
    },
    "annotations_api.update_span": {
        404: "No such document for you, or no such span in your annotations.",
        409: "The document is submitted or skipped: reopen it first.",
        422: "As for creating a span, or the new label breaks one of the span's relations.",
    },
    "annotations_api.delete_span": {
        404: "No such document for you, or no such span in your annotations.",
        409: "The document is submitted or skipped: reopen it first.",
    },
    "annotations_api.create_relation": {
        409: "The id belongs to a different relation, the same relation exists, or the "
             "document is submitted or skipped.",
        422: "An end is not one of your spans, or the schema allows no such relation between "
             "their labels.",
    },
    "annotations_api.delete_relation": {
        404: "No such document for you, or no such relation in your annotations.",
        409: "The document is submitted or skipped: reopen it first.",
    },
    "annotations_api.set_status": {
        409: "The workflow does not allow this move (submitted -> skipped, say).",
        422: "Submitting, some spans miss required attributes.",
    },
    "documents_api.import_documents": {
        413: "The upload is larger than ANNOTATOR_MAX_UPLOAD_MB.",
        415: "Send JSON (application/json) or a file (multipart/form-data).",
        422: "A record is not valid: errors keyed by line (record number in JSON lists); or "
             "as_user is not a member of the project.",
    },
    "export_api.export_project": {422: "A filter is not valid or names something the project has not."},
    "export_api.export_summary": {422: "A filter is not valid or names something the project has not."},
}

# Success answers besides the decorated one: endpoint -> code -> (description, like), where
# ``like`` is the code whose content and headers the answer shares.
ALTERNATIVE_SUCCESS = {
    "annotations_api.create_span": {
        200: ("A replay: a span with this id and the same body is stored; it is answered "
              "unchanged, without a new version.", 201),
    },
    "annotations_api.create_relation": {
        200: ("A replay: a relation with this id and the same body is stored; it is answered "
              "unchanged, without a new version.", 201),
    },
    "assignments_api.assign_documents": {
        200: ("dry_run: the plan (planned, short, loads); nothing is stored.", 201),
    },
}

# Response bodies that are not JSON: endpoint -> media type -> schema.
MEDIA_TYPES = {
    "export_api.export_project": {
        "application/x-ndjson": {"type": "string", "description": "format=jsonl: one JSON record "
                                 "per document and annotator (docs/export.md)."},
        "text/plain": {"type": "string", "description": "format=conll without a split."},
        "application/zip": {"type": "string", "format": "binary", "description":
                            "format=spacy (DocBin shards), or conll with a split."},
    },
    "projects_api.get_progress_csv": {
        "text/csv": {"type": "string", "description": "One row per annotator."},
    },
}

PATH_PARAMETERS = {
    "pid": "The project's id.",
    "did": "The document's id.",
    "aid": "The assignment's id.",
    "sid": "The span's id (the client's, as given when it was created).",
    "rid": "The relation's id (the client's, as given when it was created).",
    "username": "The user's name.",
}
# Query parameters without a description of their own (field metadata), by name; an
# (endpoint, name) entry wins where the same name means something else.
QUERY_PARAMETERS = {
    "page": "The page to return, from 1.",
    "page_size": "How many items a page holds.",
    "annotator": "Only this annotator's (a username).",
    "project": "Only this project's (an id).",
    "document": "Only this document's (an id).",
    ("documents_api.list_documents", "status"): "Only documents with an assignment in this "
    "status, or with none (unassigned).",
    ("documents_api.list_documents", "annotator"): "Only documents assigned to this annotator.",
    ("documents_api.list_documents", "q"): "Only documents whose text or external id contains this.",
    ("assignments_api.list_assignments", "status"): "Only assignments in this status.",
    ("assignments_api.my_assignments", "status"): "Only my assignments in this status.",
    ("annotations_api.get_annotations", "annotator"): "Whose annotations (reviewers and admins); "
    "by default mine.",
    ("export_api.export_project", "format"): "jsonl (default), conll or spacy.",
    ("export_api.export_summary", "format"): "The format the export would have (jsonl, conll, spacy).",
    "status": "Only records whose assignment is in these statuses (repeated or comma-separated; "
              "default submitted).",
    ("export_api.export_project", "annotator"): "Only these annotators (repeated or comma-separated).",
    ("export_api.export_summary", "annotator"): "Only these annotators (repeated or comma-separated).",
    ("export_api.export_project", "document"): "Only these document ids (repeated or comma-separated).",
    ("export_api.export_summary", "document"): "Only these document ids (repeated or comma-separated).",
    "updated_since": "Only records changed at or after this moment (ISO 8601; UTC when no zone "
                     "is given).",
    "split": "train,dev,test percentages, e.g. 80,10,10: each document goes to one part.",
    "seed": "The seed of the split (the same seed gives the same parts).",
}

# Links between operations: source endpoint -> [(target endpoint, {parameter: expression})].
# The source's first success answer carries them.
_PID = {"pid": "$response.body#/id"}
_DID = {"did": "$response.body#/id"}
LINKS = {
    "projects_api.create_project": [
        (target, _PID) for target in (
            "projects_api.get_project", "projects_api.update_project", "projects_api.add_members",
            "projects_api.list_members", "documents_api.import_documents",
            "documents_api.list_documents", "assignments_api.assign_documents",
            "assignments_api.list_assignments", "projects_api.get_progress",
            "export_api.export_summary")],
    "projects_api.list_projects": [
        (target, {"pid": "$response.body#/0/id"}) for target in (
            "projects_api.get_project", "assignments_api.next_document",
            "documents_api.list_documents", "projects_api.list_members")],
    "documents_api.import_documents": [
        (target, {"did": "$response.body#/document_ids/0"}) for target in (
            "documents_api.get_document", "annotations_api.get_annotations")],
    "documents_api.list_documents": [
        (target, {"did": "$response.body#/0/id"}) for target in (
            "documents_api.get_document", "annotations_api.get_annotations")],
    "assignments_api.next_document": [
        (target, _DID) for target in (
            "documents_api.get_document", "annotations_api.get_annotations",
            "annotations_api.create_span", "annotations_api.set_status")],
    "assignments_api.my_assignments": [
        (target, {"did": "$response.body#/0/document_id"}) for target in (
            "documents_api.get_document", "annotations_api.get_annotations",
            "annotations_api.create_span", "annotations_api.create_relation",
            "annotations_api.set_status")],
    "assignments_api.list_assignments": [
        ("assignments_api.reassign", {"aid": "$response.body#/0/id"}),
        ("assignments_api.delete_assignment", {"aid": "$response.body#/0/id"}),
    ],
    "assignments_api.assign_documents": [
        ("assignments_api.reassign", {"aid": "$response.body#/assignments/0/id"}),
        ("assignments_api.delete_assignment", {"aid": "$response.body#/assignments/0/id"}),
    ],
    "annotations_api.create_span": [
        (target, {"did": "$request.path.did", "sid": "$response.body#/id"}) for target in (
            "annotations_api.update_span", "annotations_api.delete_span")],
    "annotations_api.create_relation": [
        ("annotations_api.delete_relation", {"did": "$request.path.did", "rid": "$response.body#/id"}),
    ],
    "users_api.create_user": [
        (target, {"username": "$response.body#/username"}) for target in (
            "users_api.update_user", "users_api.unlock_user")],
    "users_api.list_users": [
        ("users_api.update_user", {"username": "$response.body#/0/username"}),
    ],
}
