"""Review and check-ins meet through two narrow interfaces only: check-ins hand a case over with
`review.intake`, and review reads faces through the `CaseEvidence` port check-ins provide."""

import ast
import subprocess
import sys
from pathlib import Path

import custodes

SRC = Path(custodes.__file__).resolve().parent


def _imports(folder: str) -> dict[str, set[str]]:
    found = {}
    for path in sorted((SRC / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        found[path.relative_to(SRC).as_posix()] = names
    return found


def test_review_never_imports_checkins():
    offenders = {f: sorted(n for n in names if n.startswith("custodes.checkins"))
                 for f, names in _imports("review").items()}
    assert not {f: n for f, n in offenders.items() if n}


def test_checkins_reach_review_only_through_its_intake_and_port():
    allowed = {"custodes.review", "custodes.review.intake", "custodes.review.ports",
               "custodes.review.intake.ReviewRequest", "custodes.review.intake.open_item",
               "custodes.review.ports.CaseEvidence"}
    used = {f: sorted(n for n in names if n.startswith("custodes.review") and n not in allowed)
            for f, names in _imports("checkins").items()}
    assert not {f: n for f, n in used.items() if n}
    # `from custodes.review import X` may only name the intake or the port
    for path in (SRC / "checkins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "custodes.review":
                assert {a.name for a in node.names} <= {"intake", "ports"}, path


def test_loading_review_loads_no_checkin_code():
    code = ("import sys, custodes.review.service, custodes.review.views; "
            "print(sorted(m for m in sys.modules if m.startswith('custodes.checkins')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
