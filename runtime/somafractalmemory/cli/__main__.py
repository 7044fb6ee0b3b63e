"""``python -m somafractalmemory.cli``: the same as the ``soma`` console script."""

from somafractalmemory.cli.main import main

raise SystemExit(main())
