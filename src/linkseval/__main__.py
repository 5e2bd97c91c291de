"""Run the ``linkseval`` command: ``python -m linkseval``."""

from linkseval.cli import main

raise SystemExit(main())
