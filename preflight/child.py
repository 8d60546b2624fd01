"""`python -m preflight.child`: the interpreter a program runs in, one stack per child.

The gate (validation, packs, waivers, reports) stays in the parent, which reads the
graph this child writes: a program can change nothing of it. The program's own output
goes to this process's stdout and stderr, which the parent keeps apart from reports.

Two pipes connect the child to its parent: on one it asks for the stack a
StackReference names (`{"reference": "prod"}`), on the other it reads the answer
(`{"outputs": ..., "secrets": [...], "graph": {...}}` or `{"error": "..."}`). The
resources go to `--resources` as they are recorded (`preflight.stream`), so the graph
is never held whole here; the rest of the result goes to `--result` as one JSON
document that ends the run, with the number of lines the resources file must have: a
graph is delivered only if both are complete.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from preflight.mocks import ResolvedReference
from preflight.project import PreflightError, Program
from preflight.stream import ResourceStream
from preflight.synth import ProgramError, Synthesizer

# Exit codes the parent reads; any other (the program's own exit, a crash) is a death.
DELIVERED, FAILED = 0, 3


class Parent:
    """The parent's answers to this child's StackReferences, over two pipes."""

    def __init__(self, ask: TextIO, answers: TextIO) -> None:
        self._ask, self._answers = ask, answers

    def reference(self, referencing: str, stack: str) -> tuple[ResolvedReference, dict[str, Any]]:
        self._ask.write(json.dumps({"reference": stack}) + "\n")
        self._ask.flush()
        line = self._answers.readline()
        if not line:
            raise PreflightError(f"stack '{referencing}': the gate stopped answering its reference to '{stack}'")
        answer = json.loads(line)
        if "error" in answer:
            raise PreflightError(answer["error"])
        return ResolvedReference(answer["outputs"], answer["secrets"]), answer["graph_outputs"]


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m preflight.child")
    cli.add_argument("--program", required=True)
    cli.add_argument("--stack", required=True)
    cli.add_argument("--result", required=True)
    cli.add_argument("--resources", required=True)
    cli.add_argument("--ask-fd", type=int, required=True)
    cli.add_argument("--answer-fd", type=int, required=True)
    args = cli.parse_args(argv)
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    parent = Parent(os.fdopen(args.ask_fd, "w"), os.fdopen(args.answer_fd, "r"))
    result: dict[str, Any]
    stream = ResourceStream(Path(args.resources))
    try:
        synthesizer = Synthesizer(Program.load(args.program), references=parent.reference)
        graph = synthesizer.synthesize(args.stack, stream)
        exports = synthesizer.exports(args.stack)
        stream.close()
        result = {
            "graph": {
                "project": graph.project,
                "stack": graph.stack,
                "outputs": graph.outputs,
                "diagnostics": graph.diagnostics,
            },
            "resource_lines": stream.lines,
            "exports": {"outputs": exports.outputs, "secrets": exports.secret_output_names},
        }
    except ProgramError as error:
        result = {"error": str(error), "program": True}
    except PreflightError as error:
        result = {"error": str(error), "program": False}
    # Written whole, then renamed: the parent sees a complete result or none.
    target = Path(args.result)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps({**result, "complete": True}))
    partial.replace(target)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: threads a failed program left behind must not hang it.
    os._exit(DELIVERED if "graph" in result else FAILED)


if __name__ == "__main__":
    main()
