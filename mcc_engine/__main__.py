"""`python -m mcc_engine` runs the `mcc` command line."""

import sys

from mcc_engine.cli import main

sys.exit(main())
