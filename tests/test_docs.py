"""The docs as a reader follows them: every shell and Python snippet of README.md and docs/ runs for real.

Each page runs in a sandbox that looks like a checkout (the repository's code and `.venv` linked in),
its snippets in order in one shell, as a reader pastes them. README.md starts from nothing, the way a
fresh machine does: `make demo` generates the data and builds the lakehouse the later snippets use.
The other pages start from a copy of the small lakehouse of `tests/built.py` (in `lakehouse/`, built
from `data/landing/`) and talk to the real Prefect server and process worker of
`tests/test_deployment.py`, so the deployment snippets register and run real deployments.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stedi.registry import REGISTRY
from tests import test_deployment
from tests.built import built_lake
from tests.conftest import REPO
from tests.test_deployment import Server

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN = {"sh", "bash", "console", "python"}

# Commands written in ```text fences because they cannot run inside this suite. Keep this list short:
# every other command in the docs runs below, and a command in a text fence that is not listed here
# fails `test_text_fences_hide_no_commands`.
NOT_RUN = {
    "make test": "runs this very suite; CI runs it (.ci/run)",
    ".venv/bin/prefect server start --host 127.0.0.1": (
        "a service that runs until stopped, on the fixed port 4200; the deployment fixture starts the "
        "same command on a free port and the operating page's snippets use it"
    ),
    ".venv/bin/prefect worker start --pool stedi-process": (
        "a service that runs until stopped; the deployment fixture starts the same worker"
    ),
}
COMMAND = re.compile(r"^\s*(\$ |\.venv/bin/|make |stedi |prefect |python )")
# A sandbox links in everything of the repository but what a checkout creates or caches, so that the paths
# in the docs (`.venv/bin/stedi`, `python -m flows.maintenance`, `make demo`) mean what they mean there.
NOT_LINKED = {".git", ".venv", "data", "lakehouse", ".stedi", ".prefect-home", "build", "dist"}
SNIPPET_TIMEOUT = 900


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    lang: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    """Every fenced block of a Markdown page, with its language and first line number."""
    found: list[Snippet] = []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found.append(Snippet(page, i + 1, opening.group(1), "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    return found


def command_of(line: str) -> str:
    return line.split("#", 1)[0].strip()


def shell_script(blocks: list[Snippet]) -> str:
    """One bash script for a page's snippets, each announced by a marker line naming where it is."""
    parts = ["set -euo pipefail"]
    for block in blocks:
        parts.append(f'echo "==> {block.where} at $(date +%s)"')
        if block.lang == "python":
            parts.append(f".venv/bin/python - <<'PYTHON_SNIPPET'\n{block.body}PYTHON_SNIPPET")
        elif block.lang == "console":
            parts += [line[2:] for line in block.body.splitlines() if line.startswith("$ ")]
        else:
            parts += [line for line in block.body.splitlines() if command_of(line) not in NOT_RUN]
    return "\n".join(parts) + "\n"


def make_sandbox(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".venv").symlink_to(Path(sys.prefix))
    for entry in REPO.iterdir():
        if entry.name not in NOT_LINKED and not entry.name.endswith("_cache"):
            (root / entry.name).symlink_to(entry)
    return root


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a new shell: no Prefect or AWS settings of this test process, quiet Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_", "STEDI_"))}
    env |= {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    return env | extra


def run_page(page: Path, sandbox: Path, env: dict[str, str]) -> str:
    blocks = [s for s in snippets(page) if s.lang in RUN]
    result = subprocess.run(
        ["bash", "-c", shell_script(blocks)],
        cwd=sandbox,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SNIPPET_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        markers = re.findall(r"^==> (.+)$", result.stdout, flags=re.MULTILINE)
        failed = markers[-1] if markers else "before the first snippet"
        tail = "\n".join(result.stdout.splitlines()[-60:])
        pytest.fail(f"the snippet at {failed} exited with {result.returncode}:\n{tail}", pytrace=False)
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """The shared small lakehouse; its landing root is the sibling folder `landing`."""
    return built_lake(tmp_path_factory)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `prefect server start` with the work pool, blocks, deployments and a process worker."""
    yield from test_deployment.server.__wrapped__(tmp_path_factory)


@pytest.mark.integration
@pytest.mark.slow
def test_the_readme_runs_on_a_fresh_machine(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path / "checkout")
    probe = subprocess.run(["make", "-q", "install"], cwd=sandbox, check=False)
    if probe.returncode != 0:
        pytest.fail("the .venv is older than pyproject.toml: run `make install` first", pytrace=False)
    run_page(REPO / "README.md", sandbox, clean_env())
    # The quick start's promises: a local salt was created, the lakehouse holds the ML table.
    assert (sandbox / ".stedi" / "subject-salt").is_file()
    assert (sandbox / "lakehouse" / "curated" / "machine_learning_curated" / "_delta_log").is_dir()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "README.md"], ids=lambda p: p.stem)
def test_every_snippet_of_a_docs_page_runs(page: Path, built: Path, server: Server, tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path / "checkout")
    shutil.copytree(built.parent / "landing", sandbox / "data" / "landing")
    shutil.copytree(built, sandbox / "lakehouse")
    keep = {k: server.env[k] for k in server.env if k.startswith("PREFECT_")}
    run_page(page, sandbox, clean_env(**keep, STEDI_SUBJECT_SALT=os.environ["STEDI_SUBJECT_SALT"]))


@pytest.mark.integration
def test_the_duckdb_snippet_reads_an_empty_table(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    (block,) = [s for s in snippets(REPO / "docs" / "data-contract.md") if "duckdb" in s.body]
    sandbox = make_sandbox(tmp_path / "checkout")
    spec = REGISTRY["machine_learning_curated"]
    table = sandbox / "lakehouse" / str(spec.zone) / spec.name
    write_deltalake(str(table), pa.Table.from_pylist([], schema=spec.schema))
    result = subprocess.run(
        [str(sandbox / ".venv" / "bin" / "python"), "-"],
        input=block.body,
        cwd=sandbox,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[(0, 0)]"


def test_text_fences_hide_no_commands() -> None:
    hidden = [
        f"{s.where}: {line.strip()}"
        for page in PAGES
        for s in snippets(page)
        if s.lang not in RUN
        for line in s.body.splitlines()
        if COMMAND.match(line) and command_of(line) not in NOT_RUN
    ]
    assert not hidden, "commands outside a runnable fence (use ```sh, or list them in NOT_RUN with why)"


def test_every_snippet_fence_names_a_known_language() -> None:
    unknown = [f"{s.where}: ```{s.lang}" for p in PAGES for s in snippets(p) if s.lang not in RUN | {"text"}]
    assert not unknown, "fence languages are sh, bash, console, python (run) or text (not run)"


def columns_table() -> str:
    """The column list of every data table, tables with the same columns on one row."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in REGISTRY.data_tables:
        groups.setdefault(tuple(REGISTRY[name].schema.names), []).append(name)
    rows = [
        f"| {', '.join(f'`{t}`' for t in tables)} | {', '.join(cols)} |" for cols, tables in groups.items()
    ]
    return "\n".join(["| table | columns |", "|---|---|", *rows]) + "\n"


@pytest.mark.parametrize(
    ("marker", "generated"),
    [("catalogue", REGISTRY.catalogue), ("columns", columns_table)],
    ids=["catalogue", "columns"],
)
def test_the_generated_sections_follow_the_registry(marker: str, generated: Callable[[], str]) -> None:
    page = REPO / "docs" / "data-contract.md"
    text = page.read_text()
    pattern = re.compile(rf"(<!-- {marker}: [^\n]*-->\n)(.*?)(<!-- end of {marker} -->)", re.DOTALL)
    match = pattern.search(text)
    assert match, f"{page.name} lost its {marker} markers"
    if os.environ.get("STEDI_UPDATE_GOLDEN"):
        page.write_text(text[: match.start(2)] + generated() + text[match.end(2) :])
        return
    assert match.group(2) == generated(), (
        f"the {marker} in docs/data-contract.md differs from the registry: "
        "rerun with STEDI_UPDATE_GOLDEN=1 and review the diff"
    )


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_between_the_pages_resolves() -> None:
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"\w+://", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken
