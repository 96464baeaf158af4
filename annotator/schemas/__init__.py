"""Marshmallow schemas: the shape of what the API takes (``*In``) and gives (``*Out``).

Shape only: types, required fields, allowed values. No database access and no current user
here; the services check the rules that need state. Unknown fields are refused (RAISE, the
marshmallow default), and server-owned fields are ``dump_only``.

One module per feature, on the fields of :mod:`.fields`: :mod:`.users` (tokens and users),
:mod:`.projects` (projects, members, progress) with :mod:`.label_schema` (a project's label
schema), :mod:`.assignments`, :mod:`.annotations`, :mod:`.documents` (documents and imports)
and :mod:`.export`. Every public name is re-exported here, so ``from annotator.schemas import
X`` is the way to use them; ``ROLES`` and ``ASSIGNMENT_STATUSES`` are :mod:`annotator.choices`'
own, kept here for the views that import them from this package.
"""

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.choices import ROLES
from annotator.fields import INT_RANGE
from annotator.fields import TOKENS
from annotator.fields import CommaList
from annotator.fields import Integer
from annotator.fields import ItemList
from annotator.fields import Json
from annotator.fields import Pattern
from annotator.fields import StrictBoolean
from annotator.fields import String
from annotator.fields import UTCDateTime
from annotator.schemas.annotations import CLIENT_ID
from annotator.schemas.annotations import MAX_BULK_ITEMS
from annotator.schemas.annotations import OFFSET
from annotator.schemas.annotations import AnnotationsOut
from annotator.schemas.annotations import AnnotationsPut
from annotator.schemas.annotations import AnnotationsQuery
from annotator.schemas.annotations import DeletedOut
from annotator.schemas.annotations import RelationIn
from annotator.schemas.annotations import RelationOut
from annotator.schemas.annotations import RelationWriteOut
from annotator.schemas.annotations import SpanIn
from annotator.schemas.annotations import SpanOut
from annotator.schemas.annotations import SpanPatch
from annotator.schemas.annotations import SpanWriteOut
from annotator.schemas.annotations import StatusIn
from annotator.schemas.annotations import StatusOut
from annotator.schemas.assignments import AssignIn
from annotator.schemas.assignments import AssignmentOut
from annotator.schemas.assignments import AssignOut
from annotator.schemas.assignments import CreatedAssignmentOut
from annotator.schemas.assignments import MyAssignmentsQuery
from annotator.schemas.assignments import ProjectAssignmentsQuery
from annotator.schemas.assignments import ReassignIn
from annotator.schemas.documents import DocumentAssignmentOut
from annotator.schemas.documents import DocumentOut
from annotator.schemas.documents import DocumentQuery
from annotator.schemas.documents import DocumentSummaryOut
from annotator.schemas.documents import ImportDuplicateOut
from annotator.schemas.documents import ImportErrorOut
from annotator.schemas.documents import ImportFormIn
from annotator.schemas.documents import ImportJsonIn
from annotator.schemas.documents import ImportOptions
from annotator.schemas.documents import ImportReportOut
from annotator.schemas.documents import NextDocumentOut
from annotator.schemas.export import SPLIT
from annotator.schemas.export import ExportQuery
from annotator.schemas.export import ExportSummaryOut
from annotator.schemas.projects import GUIDELINES
from annotator.schemas.projects import AssignmentSettings
from annotator.schemas.projects import MemberOut
from annotator.schemas.projects import MembersIn
from annotator.schemas.projects import ProgressOut
from annotator.schemas.projects import ProjectIn
from annotator.schemas.projects import ProjectOut
from annotator.schemas.projects import ProjectPatch
from annotator.schemas.users import PASSWORD
from annotator.schemas.users import USERNAME
from annotator.schemas.users import MeOut
from annotator.schemas.users import TokenIn
from annotator.schemas.users import TokenOut
from annotator.schemas.users import UserIn
from annotator.schemas.users import UserOut
from annotator.schemas.users import UserPatch
from annotator.services.schema import LABEL_NAMES
from annotator.services.schema import NAME_RULE
from annotator.services.schema import AttributeIn
from annotator.services.schema import LabelIn
from annotator.services.schema import LabelSchemaIn
from annotator.services.schema import RelationTypeIn

__all__ = [
    "ASSIGNMENT_STATUSES", "AnnotationsOut", "AnnotationsPut", "AnnotationsQuery", "AssignIn", "AssignOut",
    "AssignmentOut", "AssignmentSettings", "AttributeIn", "CLIENT_ID", "CommaList", "CreatedAssignmentOut",
    "DeletedOut", "DocumentAssignmentOut", "DocumentOut", "DocumentQuery", "DocumentSummaryOut", "ExportQuery",
    "ExportSummaryOut", "GUIDELINES", "INT_RANGE", "ImportDuplicateOut", "ImportErrorOut", "ImportFormIn",
    "ImportJsonIn", "ImportOptions", "ImportReportOut", "Integer", "ItemList", "Json", "LABEL_NAMES", "LabelIn",
    "LabelSchemaIn", "MAX_BULK_ITEMS", "MeOut", "MemberOut", "MembersIn", "MyAssignmentsQuery", "NAME_RULE",
    "NextDocumentOut", "OFFSET", "PASSWORD", "Pattern", "ProgressOut", "ProjectAssignmentsQuery", "ProjectIn",
    "ProjectOut", "ProjectPatch", "ROLES", "ReassignIn", "RelationIn", "RelationOut", "RelationTypeIn",
    "RelationWriteOut", "SPLIT", "SpanIn", "SpanOut", "SpanPatch", "SpanWriteOut", "StatusIn", "StatusOut",
    "StrictBoolean", "String", "TOKENS", "TokenIn", "TokenOut", "USERNAME", "UTCDateTime", "UserIn", "UserOut",
    "UserPatch",
]
