"""Admin pages: the audit log, searched by user, document, project, action and time."""

from flask import render_template
from flask import request

from annotator.security import require_role
from annotator.services import audit
from annotator.services import projects
from annotator.services import users
from annotator.web.admin import bp
from annotator.web.admin import form_int

PAGE_SIZE = 100


@bp.get("/audit")
@require_role("admin")
def audit_log():
    """The audit log, newest first, filtered by user (actor or subject), document, action and time."""
    args = request.args
    page = max(form_int(args.get("page"), 1), 1)
    found = audit.search(user=args.get("user") or "", document=args.get("document", ""),
                         project=args.get("project", ""), action=args.get("action") or "",
                         since=args.get("since") or "", until=args.get("until") or "", page=page, page_size=PAGE_SIZE)
    return render_template(
        "admin/audit.html", events=found.events, args=args, problems=found.problems, total=found.total, page=page,
        pages=max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1), usernames=users.usernames(),
        projects=projects.all_projects(), actions=audit.actions(),
    ), (422 if found.problems else 200)
