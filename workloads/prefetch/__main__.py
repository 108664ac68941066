"""Entry point: `python -m workloads.prefetch ...`."""

from workloads.prefetch.cli import main

raise SystemExit(main())
