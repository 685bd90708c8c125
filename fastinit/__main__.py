"""``python -m fastinit``: the command-line tool (see fastinit.cli).

May import: fastinit.cli.
"""
from fastinit.cli import main

raise SystemExit(main())
