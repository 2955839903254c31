"""The static checks run in the suite, so CI enforces them (STYLE.md, "Checks that run").

Each check is the real tool over the real tree, at zero findings:

* mypy --strict over every package (config: ``[tool.mypy]`` in pyproject.toml);
* ruff check and ruff format --check over packages, tests and bench;
* import-linter's contracts (``[tool.importlinter]``): the pure core imports no
  framework, no adapter and no I/O module; packages are layered with no cycles;
* tsc --checkJs over the web client (web/tsconfig.json; typescript from web's lockfile).

A missing tool is a failure, not a skip: ``pip install -e '.[test]'`` and
``npm ci`` in web/ (``./dev test`` does both).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PACKAGES = ["meeting", "voting", "recorder", "meetingd", "signaling", "media"]
PYTHON_TREES = [*PACKAGES, "tests", "bench"]


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed: pip install -e '.[test]'"
    return path


def _run(*cmd: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_mypy_strict_finds_nothing_in_any_package() -> None:
    # The incremental cache (git-ignored) makes a re-run take a second or two.
    out = _run(sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache"), *PACKAGES)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_check_is_clean_on_packages_tests_and_bench() -> None:
    out = _run(_tool("ruff"), "check", "--output-format", "concise", *PYTHON_TREES)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_leaves_packages_tests_and_bench_unchanged() -> None:
    out = _run(_tool("ruff"), "format", "--check", *PYTHON_TREES)
    assert out.returncode == 0, out.stdout + out.stderr


def test_import_contracts_are_kept() -> None:
    out = _run(_tool("lint-imports"), "--no-cache")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_import_contracts_cover_the_whole_core() -> None:
    """The contracts name every package, so a new core package cannot slip past them."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert sorted(config["root_packages"]) == sorted(PACKAGES)
    pure = next(c for c in config["contracts"] if c["name"].startswith("The pure core"))
    assert sorted(pure["source_modules"]) == ["meeting", "recorder", "voting"]
    top = {p for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    assert {p.name for p in top} == set(PACKAGES), "a new package must join the checks above"


def test_no_module_imports_itself_through_others() -> None:
    """No import cycle between modules, anywhere (lazy, function-level imports included):
    the cycles ballots <-> procedure and cli <-> minutes_cli are gone and stay gone."""
    import grimp

    graph = grimp.build_graph(*PACKAGES)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(root: str) -> None:  # Tarjan's strongly connected components, iteratively
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_tsc_check_js_finds_nothing_in_the_web_client() -> None:
    tsc = ROOT / "web" / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "typescript is not installed: run 'npm ci' in web/ (./dev test does)"
    out = _run(str(tsc), "-p", "tsconfig.json", cwd=ROOT / "web")
    assert out.returncode == 0, out.stdout + out.stderr
