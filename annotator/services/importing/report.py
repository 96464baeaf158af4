"""The import report: documents created, duplicates, sets added, and the errors by location."""

from dataclasses import dataclass
from dataclasses import field

from annotator.services.importing.base import Location
from annotator.services.importing.base import Prepared

# Reports list this many errors and duplicates; beyond, they are counted.
MAX_LISTED = 1000


@dataclass
class ImportReport:
    """What an import did: documents created, duplicates, sets added, errors by location."""

    created: int = 0
    duplicates: list[dict] = field(default_factory=list)
    duplicate_count: int = 0
    document_ids: list[int] = field(default_factory=list)
    annotation_sets: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)
    error_count: int = 0
    records: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def add_error(self, location, problems: list[str]) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors[str(location)] = problems

    def add_duplicate(self, item: "Prepared", document_id: int | None) -> None:
        self.duplicate_count += 1
        if len(self.duplicates) < MAX_LISTED:
            entry = _location_dict(item.location)
            entry.update(external_id=item.external_id, document_id=document_id or None)
            self.duplicates.append(entry)

    def error_message(self) -> str:
        listed = "" if self.error_count <= len(self.errors) else f" (the first {len(self.errors):,} are listed)"
        return (f"{self.error_count:,} of {self.records:,} record(s) are invalid; nothing was imported"
                f"{listed}.")

    def as_dict(self) -> dict:
        errors = []
        for key, messages in self.errors.items():
            entry = _location_dict(_parse_location(key))
            entry["message"] = " ".join(m if m.endswith(".") else m + "." for m in messages)
            errors.append(entry)
        # Errors found while storing (a used external id) come after the others: sort by place.
        errors.sort(key=lambda e: (e.get("file") or "", e["line"]))
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "duplicate_count": self.duplicate_count,
            "document_ids": self.document_ids,
            "annotation_sets": self.annotation_sets,
            "errors": errors,
            "error_count": self.error_count,
            "records": self.records,
        }


def _parse_location(key: str):
    file, _, line = key.rpartition(":")
    if line.isdigit():
        return Location(int(line), file or None)
    return Location(0, key)


def _location_dict(location) -> dict:
    if isinstance(location, Location):
        return {"line": location.line, "file": location.file} if location.file else {"line": location.line}
    return {"line": location}
