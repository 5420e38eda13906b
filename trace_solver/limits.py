"""Every limit the solver enforces, in one place.

The solver executes hostile model output, so each input dimension is capped before work proportional to it is done.
Raising a limit is a one-line change here; the hostile-input tests exercise each one.
"""

MAX_COMPLETION_CHARS = 65_536  # a completion longer than this is not read at all
MAX_TRACE_CHARS = 16_384  # the YAML extracted from a completion
MAX_YAML_DEPTH = 16  # nesting of mappings/sequences in the document
MAX_YAML_NODES = 2_048  # scalars + collections in the document
# YAML longer than this, or with more '[' + '{' than SCAN_ABOVE_BRACKETS, is checked event by event (stopping at the
# first refusal) before it is composed: libyaml's cost grows with the square of flow nesting depth.
SCAN_ABOVE_CHARS = 4_096
SCAN_ABOVE_BRACKETS = 256
MAX_STEPS = 64  # steps in a trace
MAX_NAME_CHARS = 64  # variable names
MAX_ARGS = 16  # operands of one compute step
MAX_EXPRESSION_CHARS = 256  # one formula
MAX_EXPRESSION_NODES = 64  # AST nodes of one formula
MAX_NUMBER_CHARS = 40  # a numeric literal, as written
MAX_EXPONENT = 64  # |exponent| in pow / ** (and scientific notation)
MAX_MAGNITUDE = 10**15  # |value| of any number the solver holds
MAX_DENOMINATOR = 10**12  # denominator of any exact fraction the solver holds
