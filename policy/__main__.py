"""The Lean RAG cluster policy pack. Run with:

    pulumi preview --policy-pack policy/            (from the repo root, any stack)

The policies live in policy/pack.py (rules in policy/rules.py as plain functions); this file only starts the
analyzer: PolicyPack(...) serves and blocks, so nothing imports this module.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules use stacks/

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.pack import POLICIES

PolicyPack(name="leanrag-cluster", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
