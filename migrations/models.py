"""Every module that declares tables on ``core.db.Base``: imported so Alembic sees them all."""

from connectors import models as connectors_models  # noqa: F401
from core import casematerials, casestore, events, jointcases, ledger, uselog  # noqa: F401
from core.db import Base
from gateway import models as gateway_models  # noqa: F401
from licenses import models as license_models  # noqa: F401
from licenses.pki import models as pki_models  # noqa: F401
from pipeline import models as flow_models  # noqa: F401

metadata = Base.metadata
