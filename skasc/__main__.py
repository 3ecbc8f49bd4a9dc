"""``python -m skasc`` is the ``skasc`` command."""

import sys

from .cli import main

sys.exit(main())
