"""`python -m local.demo`: see local/demo/__init__.py."""

import sys

from local.demo.cli import main

sys.exit(main())
