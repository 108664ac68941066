"""The Pulumi program: read the stack's config once, validate it, build the stack, export its outputs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # Pulumi runs this file from infra/

import pulumi

from infra.assemble import build_stack
from infra.config import from_pulumi

config, secrets = from_pulumi()
stack = build_stack(config, secrets, pulumi.get_stack())
for key, value in stack.outputs.items():
    pulumi.export(key, value)
