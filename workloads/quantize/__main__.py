"""Entry point: `python -m workloads.quantize ...`."""

from workloads.quantize.cli import main

raise SystemExit(main())
