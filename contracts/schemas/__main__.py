"""``python -m contracts.schemas``: rewrite the JSON Schema files from the models."""

from __future__ import annotations

import sys

from contracts.schemas import write_schemas

for path in write_schemas():
    sys.stdout.write(f"{path}\n")
