"""Mutation check of the access and audit rules: remove each scoping, ownership or audit call in
turn, in a temporary copy of the source, run the tests that should notice, and list survivors.

    python -m custodes.lab.mutation [--only subjects/scope.py] [--json PATH] [--list]

Not part of `make test` (one run takes many minutes). A surviving mutant is a rule no test
guards: either add the test, or explain why the call is not a rule.

Mutations (each applied alone):
- `call`: an expression statement calling an audit or scope function (`record`, `record_read`,
  `_record_loaded`, `_collect_read`, `chain.append`, `uow.record`, ...) is removed;
- `scope`: `subject_visible(...)` / `subject_owned(...)` / `load_through_subject(...)`'s scope is
  replaced by "everything" (`sqlalchemy.true()`);
- `for_change`: `for_change=True` becomes `for_change=False` (owner-only becomes shared-visible);
- `guard`: `if ...: raise NotFound|Forbidden|Conflict|Unauthorized` never raises;
- `membership`: a membership test (`x in {...}`) in a guarded expression is made always true;
- `event`: an ORM event subscription of the unit of work (`event.listen(...)`) is removed;
- `collect`: one of `session.new/dirty/deleted` is treated as empty when collecting writes;
- `unscoped_load`: a scoped loader (`load(uow=..., alert_id=...)`) becomes `uow.session.get(...)`.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]  # .../src/custodes
REPO = SRC.parents[1]

# file -> the tests that must notice a change of its rules (SQLite only, to keep a run bounded)
TARGETS: dict[str, list[str]] = {
    "subjects/scope.py": ["tests/access", "tests/subjects", "tests/orders", "tests/alerts", "tests/audit"],
    "access/service.py": ["tests/access", "tests/audit"],
    "access/deps.py": ["tests/access", "tests/subjects"],
    "audit/chain.py": ["tests/audit"],
    "audit/anchors.py": ["tests/audit"],
    "audit/service.py": ["tests/audit"],
    "uow.py": ["tests/audit", "tests/alerts", "tests/subjects"],
    "subjects/service.py": ["tests/subjects", "tests/access", "tests/audit"],
    "orders/service.py": ["tests/orders", "tests/access", "tests/audit", "tests/subjects"],
    "alerts/service.py": ["tests/alerts", "tests/access", "tests/audit"],
    "review/service.py": ["tests/review/test_review_api.py", "tests/review/test_error_rates.py"],
    "checkins/review_evidence.py": ["tests/review/test_review_api.py"],
    "checkins/face_store.py": ["tests/checkins/test_checkins_api.py", "tests/checkins/test_enrolment_api.py",
                               "tests/review/test_review_api.py", "tests/checkins/test_key_rotation.py"],
    "checkins/enrolment.py": ["tests/checkins/test_enrolment_api.py"],
}
AUDIT_CALLS = {"record", "record_read", "_record_loaded", "_collect_read", "_collect_writes", "chain.append",
               "_lock_chain", "_commit_reads_only"}
# loaders that scope through the subject, and the unscoped fetch a careless change would use instead
LOADERS = {"alerts/service.py": ("alert_id", "Alert"), "review/service.py": ("item_id", "ReviewItem"),
           "orders/service.py": ("order_id", "Order")}
SCOPE_CALLS = {"subject_visible", "subject_owned"}
GUARD_ERRORS = {"NotFound", "Forbidden", "Conflict", "Unauthorized", "AnchorError"}


@dataclass
class Mutant:
    file: str
    line: int
    kind: str
    what: str
    index: int  # which matching node in the file (to apply the same mutation again)
    result: str = ""  # killed | survived
    seconds: float = 0.0


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute):
            # list.append is not an audit call; chain.append (the audit chain) is
            return f"chain.{f.attr}" if isinstance(f.value, ast.Name) and f.value.id == "chain" else f.attr
        return getattr(f, "id", "")
    return ""


class _Finder(ast.NodeTransformer):
    """Walks a module; numbers each candidate; mutates the one numbered `target` (or none)."""

    def __init__(self, rel: str, target: int | None = None) -> None:
        self.rel, self.target, self.found, self.n = rel, target, [], -1

    def _hit(self, node: ast.AST, kind: str, what: str) -> bool:
        self.n += 1
        if self.target is None:
            self.found.append(Mutant(self.rel, getattr(node, "lineno", 0), kind, what, self.n))
        return self.n == self.target

    def visit_Expr(self, node: ast.Expr):
        name = _call_name(node.value)
        if name in AUDIT_CALLS or (name == "listen" and self.rel == "uow.py"):
            kind = "event" if name == "listen" else "call"
            if self._hit(node, kind, ast.unparse(node)[:100]):
                return ast.Pass()
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        loader = LOADERS.get(self.rel)
        if loader and _call_name(node) == "load" and any(k.arg == loader[0] for k in node.keywords):
            if self._hit(node, "unscoped_load", f"{ast.unparse(node)[:70]} -> session.get({loader[1]})"):
                ident = next(k.value for k in node.keywords if k.arg == loader[0])
                return ast.parse(f"uow.session.get({loader[1]}, {ast.unparse(ident)})", mode="eval").body
        if _call_name(node) in SCOPE_CALLS and not self.rel.startswith("subjects/scope"):
            if self._hit(node, "scope", ast.unparse(node)[:100]):
                return ast.parse("__import__('sqlalchemy').true()", mode="eval").body
        for kw in node.keywords:
            if kw.arg == "for_change" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                if self._hit(node, "for_change", ast.unparse(node)[:100]):
                    kw.value = ast.Constant(False)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef):
        # subjects/scope.py itself: each scope function made to allow everything
        if self.rel == "subjects/scope.py" and node.name in SCOPE_CALLS:
            if self._hit(node, "scope", f"{node.name}() returns true()"):
                node.body = [ast.parse("return __import__('sqlalchemy').true()").body[0]]
                return node
        return self.generic_visit(node)

    def visit_If(self, node: ast.If):
        self.generic_visit(node)
        raises = [s for s in node.body if isinstance(s, ast.Raise) and _call_name(s.exc) in GUARD_ERRORS]
        if raises and self._hit(node, "guard", f"if {ast.unparse(node.test)[:80]}: raise {_call_name(raises[0].exc)}"):
            node.test = ast.Constant(False)
        return node

    def visit_IfExp(self, node: ast.IfExp):
        self.generic_visit(node)
        if _call_name(node.body) == "subject_owned" and _call_name(node.orelse) == "subject_visible":
            if self._hit(node, "for_change", f"{ast.unparse(node)[:90]} -> always visible"):
                return node.orelse
        if isinstance(node.test, ast.Compare) and any(isinstance(op, ast.In) for op in node.test.ops):
            if self._hit(node, "membership", ast.unparse(node.test)[:100]):
                node.test = ast.Constant(True)
        return node

    def visit_Attribute(self, node: ast.Attribute):
        self.generic_visit(node)
        if (self.rel == "uow.py" and node.attr in ("new", "dirty", "deleted") and isinstance(node.value, ast.Name)
                and node.value.id == "session"):
            if self._hit(node, "collect", f"session.{node.attr} -> []"):
                return ast.List(elts=[], ctx=ast.Load())
        return node


def find(only: list[str] | None = None) -> list[Mutant]:
    out = []
    for rel in TARGETS:
        if only and rel not in only:
            continue
        finder = _Finder(rel)
        finder.visit(ast.parse((SRC / rel).read_text()))
        out += finder.found
    return out


def _mutated_source(m: Mutant) -> str:
    tree = ast.parse((SRC / m.file).read_text())
    finder = _Finder(m.file, m.index)
    tree = ast.fix_missing_locations(finder.visit(tree))
    return ast.unparse(tree)


def run_one(m: Mutant, workdir: Path, timeout: int) -> Mutant:
    pkg = workdir / "custodes"
    if pkg.exists():
        shutil.rmtree(pkg)
    shutil.copytree(SRC, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / m.file).write_text(_mutated_source(m))
    env = {**os.environ, "PYTHONPATH": str(workdir), "CUSTODES_TEST_BACKENDS": "sqlite",
           "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                               *TARGETS[m.file]], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
        m.result = "survived" if proc.returncode == 0 else "killed"
        if proc.returncode not in (0, 1):  # collection error, crash: still a detected change
            m.result = "killed"
    except subprocess.TimeoutExpired:
        m.result = "killed"  # a hang is noticed too
    m.seconds = round(time.perf_counter() - t0, 1)
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="a target file (relative to custodes/), repeatable")
    ap.add_argument("--json", type=Path, help="write every mutant and its outcome here")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args(argv)
    mutants = find(args.only)
    if args.list:
        for m in mutants:
            print(f"{m.file}:{m.line} [{m.kind}] {m.what}")
        return 0
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="custodes-mutation-") as tmp, \
            Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=console) as bar:
        task = bar.add_task("mutants", total=len(mutants))
        for m in mutants:
            bar.update(task, description=f"{m.file}:{m.line} {m.kind}")
            run_one(m, Path(tmp), args.timeout)
            if m.result == "survived":
                console.print(f"[yellow]survived[/yellow] {m.file}:{m.line} [{m.kind}] {m.what}")
            bar.advance(task)
    survivors = [m for m in mutants if m.result == "survived"]
    summary = {"mutants": len(mutants), "killed": len(mutants) - len(survivors), "survived": len(survivors),
               "survivors": [asdict(m) for m in survivors], "all": [asdict(m) for m in mutants]}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"{summary['killed']} of {len(mutants)} mutants killed, {len(survivors)} survived")
    for m in survivors:
        print(f"SURVIVED {m.file}:{m.line} [{m.kind}] {m.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
