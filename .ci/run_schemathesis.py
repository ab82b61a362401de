"""Runs the schemathesis CLI (same arguments) with one CPython bug worked around.

Hypothesis names the lambdas of filtered strategies by parsing their source file with
`ast.parse`. On CPython 3.11 before 3.11.8 (this machine has 3.11.7), parsing a large
module can fail with "SystemError: AST constructor recursion depth mismatch"
(CPython gh-106905), which stops schemathesis's coverage phase with a runtime error
that says nothing about the API. The name is only used in reports, so a lambda whose
source cannot be parsed is named generically instead.
"""

import sys

from hypothesis.internal import lambda_sources

_describe = lambda_sources.lambda_description


def _describe_or_name_generically(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: <source not parsed>"


lambda_sources.lambda_description = _describe_or_name_generically

from schemathesis.cli import schemathesis  # noqa: E402

if __name__ == "__main__":
    sys.exit(schemathesis(prog_name="schemathesis"))
