"""Grounding: every value an episode states (a call's arguments, a function's response, the
final answer) traced to the evidence of the recording it was made from, deterministically.

`values.py` says what is checked, `normalize.py` how a value and the evidence are compared,
`evidence.py` where a value may come from and where it was found, `check.py` the check of one
episode. The `openai` transcriber re-asks the model with the values it could not trace and drops
(or flags) what stays ungrounded; the `grounded` filter runs the same check on any episode that
carries its evidence.
"""

from toolbox.grounding.check import Grounding, carried_evidence, ground
from toolbox.grounding.evidence import NEAR_THRESHOLD, Evidence, Found, add_interval, add_metadata

__all__ = [
    "NEAR_THRESHOLD",
    "Evidence",
    "Found",
    "Grounding",
    "add_interval",
    "add_metadata",
    "carried_evidence",
    "ground",
]
