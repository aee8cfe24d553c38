"""``python -m sandbox serve [province|county|department|all]`` (see :mod:`sandbox.runner`)."""

import sys

from sandbox.runner import main

sys.exit(main())
