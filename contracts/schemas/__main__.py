"""``python -m contracts.schemas``: rewrite the JSON Schema files from the models.

The one place in ``contracts`` that writes files: a developer script, never imported.
"""

from __future__ import annotations

import sys

from contracts.schemas import SCHEMA_FOLDER, render, schema_documents

for name, doc in schema_documents().items():
    path = SCHEMA_FOLDER / name
    path.write_text(render(doc), encoding="utf-8")
    sys.stdout.write(f"{path}\n")
