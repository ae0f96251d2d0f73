"""Rewrite run records written by an older netsplit in today's form: ``python -m netsplit.migrate FILE...``.

The first records carried the decision of the one search that wrote them (``reference_accuracy``,
``threshold``, ``drop``, ``decision``). Networks now serve every threshold, so a decision is made from the
records whenever they are read and never stored: those fields go. The width multiplier, once ``width``,
is written under its name now (:data:`RENAMED`). Today's code reads records in today's form alone.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from netsplit.errors import InputError
from netsplit.records import RecordsLock

RENAMED = {"width": "width_multiplier"}
"""Fields of records written before they were renamed, with their names now."""
OBSOLETE = ("reference_accuracy", "threshold", "drop", "decision")
"""Fields of the first records, which stored one search's decisions."""


def migrated(record: dict) -> dict:
    """One record as today's code writes it.

    >>> migrated({"width": 0.25, "decision": "accept", "accuracy": 0.9})
    {'width_multiplier': 0.25, 'accuracy': 0.9}
    """
    return {RENAMED.get(name, name): value for name, value in record.items() if name not in OBSOLETE}


def migrate(path: str | os.PathLike) -> int:
    """Rewrite a records file in today's form (atomically); how many of its records changed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no records file at {path}")
    with RecordsLock(path):  # no search appends while the file is rewritten
        records = []
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise InputError(f"{path} is not a text file of JSON records") from None
        for number, line in enumerate(text.splitlines(), 1):
            try:
                records += [json.loads(line)] if line.strip() else []
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number} is not a JSON record ({error}); fix or remove that line") from None
        changed = sum(migrated(record) != record for record in records)
        if changed:
            partial = path.with_name(path.name + ".partial")
            partial.write_text("".join(json.dumps(migrated(r), sort_keys=True) + "\n" for r in records))
            os.replace(partial, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m netsplit.migrate RECORDS.jsonl ...", file=sys.stderr)
        return 2
    for path in paths:
        try:
            print(f"{path}: {migrate(path)} records rewritten")
        except InputError as error:
            print(f"migrate: error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
