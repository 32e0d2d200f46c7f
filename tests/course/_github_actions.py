"""A GitHub Actions job, run here as a runner runs it, as far as the Classroom workflow needs it.

Steps run in order with `if:` (an implicit `success() &&` unless a status function is named),
`${{ }}` expressions, `env:` at job and step level, `$GITHUB_OUTPUT` / `$GITHUB_ENV` /
`$GITHUB_STEP_SUMMARY`, `timeout-minutes` (a timed-out step fails), and `shell: bash` as
`bash --noprofile --norc -eo pipefail`.  The actions the workflow uses are replaced by what they do:

* checkout: nothing (the repository is already laid out); setup-python: puts a given interpreter on
  PATH and, like actions/setup-python's src/find-python.ts on Linux, exports `LD_LIBRARY_PATH` with the
  interpreter's lib/ folder when the runner's python needs it (`Python.lib_dir`);
* cache/restore, cache/save: a local store of directories by exact key, `<store>/<key>/<path index>`
  (hard-linked copies; a test may fill an entry with a symlink) (src/restoreImpl.ts at v5: no
  `cache-hit` output on a miss, `cache-primary-key` always; src/saveImpl.ts: a failure to save is a
  warning, never a failed step);
* the grading reporter: `reporter_v1`, its logic reproduced from
  classroom-resources/autograding-grading-reporter, dist/main.js at tag v1 (commit d13b5912), which
  bundles src/main.js, src/console-results.js, src/notify-classroom.js and src/helpers/test-helpers.js.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: PATH of a runner before setup-python adds its interpreter (no venv on it).
RUNNER_PATH = "/usr/local/bin:/usr/bin:/bin"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
#: The reporter's check of its `runners` input, in its error branch (dist/main.js at v1).
REPORTER_RUNNERS = re.compile(r"([a-zA-Z0-9]+,)*[a-zA-Z0-9]+")


# --- the reporter, v1 -------------------------------------------------------------------------------

class _JsError(Exception):
    """An exception the reporter's JavaScript would throw (caught by its own try/catch)."""


def js_number(x: float) -> str:
    """`${x}` of a JavaScript number: integers without ".0", otherwise the shortest round-trip digits."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    return repr(x)


def _js_json(value: Any) -> str:
    """JSON.stringify of the reporter's summary object (numbers as JavaScript prints them)."""
    return "{" + ",".join(f'"{k}":{js_number(v)}' for k, v in value.items()) + "}"


def _node_base64(text: str) -> bytes:
    """Buffer.from(text, "base64"): characters outside the alphabet are skipped, padding optional."""
    clean = re.sub(r"[^A-Za-z0-9+/]", "", text.split("=")[0])
    clean += "=" * (-len(clean) % 4)
    try:
        return base64.b64decode(clean)
    except binascii.Error:
        return base64.b64decode(clean[: len(clean) - len(clean) % 4] or "")


def _escape_data(text: str) -> str:  # @actions/core command.ts escapeData
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@dataclass
class ReporterRun:
    notices: list[str] = field(default_factory=list)  # the `::notice ...` lines
    console: list[str] = field(default_factory=list)  # console.log lines that name tests and runners
    failed: str | None = None  # core.setFailed's message: the step (and so the job) fails

    @property
    def points(self) -> tuple[str, str] | None:
        """(totalPoints, maxPoints) as printed in `Points X/Y`, or None when it printed none."""
        for line in self.notices:
            m = re.fullmatch(r"::notice title=Autograding complete::Points (\S+)/(\S+)", line)
            if m:
                return m.group(1), m.group(2)
        return None


def reporter_v1(runners_input: str, env: Mapping[str, str]) -> ReporterRun:
    """autograding-grading-reporter@v1: parse every runner's result, print, notify, fail on any lost test."""
    run = ReporterRun()
    runners_input = runners_input.strip()  # core.getInput trims
    try:
        runner_results = []
        for runner in runners_input.split(","):  # main.js: getInput("runners").split(",")
            encoded = env.get(f"{runner.strip().upper()}_RESULTS")
            if encoded is None:  # Buffer.from(undefined, "base64") throws a TypeError
                raise _JsError('The first argument must be of type string or an instance of Buffer ...')
            try:
                results = json.loads(_node_base64(encoded).decode("utf-8", errors="replace"))
            except ValueError as err:  # JSON.parse("") -> "Unexpected end of JSON input"
                raise _JsError(f"JSON.parse: {err}") from err
            runner_results.append((runner, results))
        _console_results(runner_results, run)
        _notify_classroom(runner_results, run)
        if any(r.get("status") == "fail" for _, r in runner_results):
            run.failed = "Some tests failed."
        elif any(r.get("status") == "error" for _, r in runner_results):
            run.failed = "Some tests errored."
    except (_JsError, TypeError, KeyError, AttributeError) as err:
        if not REPORTER_RUNNERS.fullmatch(runners_input):
            run.failed = "The runners input must be a comma-separated list of strings."
        else:
            run.failed = str(err)
    return run


def _console_results(runner_results: list[tuple[str, Any]], run: ReporterRun) -> None:
    """console-results.js: a line per test (its name, or its message for "error"), points per runner."""
    for runner, results in runner_results:
        max_score = results.get("max_score") or 0  # getMaxScoreForTest
        tests = results["tests"]
        passed = sum(1 for t in tests if t.get("status") == "pass")
        score = passed / len(tests) * max_score  # getTestScore at v1: passed tests, not scores
        run.console.append(f"Processing: {runner}")
        for t in tests:
            where = "" if t.get("line_no") == 0 else f" - line {t.get('line_no', 'undefined')}"
            if t.get("status") == "pass":
                run.console.append(f"✅ {t.get('name')}{where}")
            elif t.get("status") == "error":
                message = t.get("message") or f"Failed to run test '{t.get('name')}'"
                run.console.append(f"Error: {message}")
            else:
                run.console.append(f"❌ {t.get('name')}{where}")
        if max_score != 0:
            run.console.append(f"Total points for {runner}: {score:.2f}/{js_number(max_score)}")


def _notify_classroom(runner_results: list[tuple[str, Any]], run: ReporterRun) -> None:
    """notify-classroom.js: sum every test's `score` and every runner's `max_score` (runners with one)."""
    total, maximum = 0.0, 0.0
    for _, results in runner_results:
        if not results.get("max_score"):
            continue
        maximum += results["max_score"]
        for t in results["tests"]:
            total += t["score"]
    if not maximum:
        return
    run.notices.append(f"::notice title=Autograding complete::{_escape_data(f'Points {js_number(total)}/{js_number(maximum)}')}")
    run.notices.append("::notice title=Autograding report::"
                       + _escape_data(_js_json({"totalPoints": total, "maxPoints": maximum})))


# --- expressions ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<name>[A-Za-z_][\w.-]*(?:\(\))?))")
_STATUS = ("always()", "success()", "failure()", "cancelled()")


@dataclass
class Context:
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: bool = False
    secrets: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=lambda: {"runner.os": "Linux", "runner.arch": "X64",
                                                              "github.actor": "student"})

    def lookup(self, name: str) -> Any:
        if name in _STATUS:
            return {"always()": True, "success()": not self.failed, "failure()": self.failed,
                    "cancelled()": False}[name]
        if name in self.values:
            return self.values[name]
        parts = name.split(".")
        if parts[0] == "secrets" and len(parts) == 2:
            return self.secrets.get(parts[1], "")
        if parts[0] == "steps" and len(parts) >= 3:
            step = self.steps.get(parts[1], {})
            if parts[2] in ("outcome", "conclusion") and len(parts) == 3:
                return step.get(parts[2], "")
            if parts[2] == "outputs" and len(parts) == 4:
                return step.get("outputs", {}).get(parts[3], "")
        raise AssertionError(f"the simulated runner does not know the expression {name!r}")


def evaluate(expr: str, ctx: Context) -> Any:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"cannot parse expression {expr!r} at {pos}"
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    at = 0

    def primary() -> Any:
        nonlocal at
        kind, text = tokens[at]
        at += 1
        if text == "!":
            return not truthy(primary())
        if text == "(":
            value = disjunction()
            assert tokens[at][1] == ")"
            at += 1
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        return ctx.lookup(text)

    def comparison() -> Any:
        nonlocal at
        left = primary()
        while at < len(tokens) and tokens[at][1] in ("==", "!="):
            op = tokens[at][1]
            at += 1
            right = primary()
            same = str(left).lower() == str(right).lower()  # string comparison ignores case
            left = same if op == "==" else not same
        return left

    def conjunction() -> Any:
        nonlocal at
        left = comparison()
        while at < len(tokens) and tokens[at][1] == "&&":
            at += 1
            right = comparison()
            left = right if truthy(left) else left
        return left

    def disjunction() -> Any:
        nonlocal at
        left = conjunction()
        while at < len(tokens) and tokens[at][1] == "||":
            at += 1
            right = conjunction()
            left = left if truthy(left) else right
        return left

    value = disjunction()
    assert at == len(tokens), f"trailing tokens in {expr!r}"
    return value


def truthy(value: Any) -> bool:
    return value not in ("", False, 0, None)


def interpolate(text: Any, ctx: Context) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), ctx)), str(text))


def should_run(step: Mapping[str, Any], ctx: Context) -> bool:
    cond = str(step.get("if", "success()")).strip()
    cond = re.sub(r"^\$\{\{(.*)\}\}$", r"\1", cond).strip()
    if not any(s in cond for s in _STATUS):
        cond = f"success() && ({cond})"
    return truthy(evaluate(cond, ctx))


# --- the job ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Python:
    """The interpreter setup-python provides: its bin/ folder, and lib/ when it needs LD_LIBRARY_PATH."""

    bin_dir: Path
    version: str
    lib_dir: Path | None = None


@dataclass
class StepRun:
    id: str
    name: str
    outcome: str
    seconds: float
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    steps: list[StepRun]
    reporter: ReporterRun | None
    summary: str

    def step(self, step_id: str) -> StepRun:
        return next(s for s in self.steps if s.id == step_id)


def _parse_output_file(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delim = line.split("<<", 1)
            value = []
            for nxt in lines:
                if nxt == delim:
                    break
                value.append(nxt)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (also those in a session of their own, like the grader's child)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def run_job(workflow: Mapping[str, Any], job_id: str, repo: Path, home: Path, python: Python, cache: Path, *,
            env_overrides: Mapping[str, str] | None = None, step_timeouts: Mapping[str, float] | None = None) -> JobRun:
    """Run `job_id`'s steps in `repo` with `home` as $HOME; `cache` is the cache store (a folder per key)."""
    job = workflow["jobs"][job_id]
    assert job.get("defaults", {}).get("run", {}).get("shell") == "bash", "run steps must use bash -eo pipefail"
    ctx = Context()
    temp = repo.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    summary_file = temp / "summary.md"
    summary_file.touch()
    exported: dict[str, str] = {}
    path_prefix: list[str] = []
    runs: list[StepRun] = []
    reporter = None
    for index, step in enumerate(job["steps"]):
        sid = step.get("id", f"step{index}")
        started = time.monotonic()
        if not should_run(step, ctx):
            ctx.steps[sid] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
            runs.append(StepRun(sid, step.get("name", sid), "skipped", 0.0))
            continue
        env = {"PATH": ":".join([*path_prefix, RUNNER_PATH]), "HOME": str(home), "CI": "true",
               "GITHUB_WORKSPACE": str(repo), "RUNNER_TEMP": str(temp), **exported}
        for scope in (workflow.get("env", {}), job.get("env", {}), step.get("env", {})):
            env.update({k: interpolate(v, ctx) for k, v in scope.items()})
        env.update(env_overrides or {})
        outputs: dict[str, str] = {}
        outcome, text = "success", ""
        uses = str(step.get("uses", ""))
        inputs = {k: interpolate(v, ctx) for k, v in step.get("with", {}).items()}
        if "run" in step:
            out_file, env_file = temp / f"output-{index}", temp / f"env-{index}"
            out_file.write_text("")
            env_file.write_text("")
            env.update(GITHUB_OUTPUT=str(out_file), GITHUB_ENV=str(env_file), GITHUB_STEP_SUMMARY=str(summary_file))
            limit = (step_timeouts or {}).get(sid, float(step.get("timeout-minutes", 360)) * 60)
            proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                    cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            try:
                text, _ = proc.communicate(timeout=limit)
                outcome = "success" if proc.returncode == 0 else "failure"
            except subprocess.TimeoutExpired:  # the runner ends the step's whole process tree
                for pid in [proc.pid, *_descendants(proc.pid)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                text, _ = proc.communicate()
                outcome = "failure"  # "The action has timed out."
            outputs = _parse_output_file(out_file.read_text())
            exported.update(_parse_output_file(env_file.read_text()))
        elif uses.startswith("actions/checkout@"):
            pass
        elif uses.startswith("actions/setup-python@"):
            path_prefix.insert(0, str(python.bin_dir))
            if python.lib_dir is not None:
                exported["LD_LIBRARY_PATH"] = str(python.lib_dir)
            outputs = {"python-version": python.version, "python-path": str(python.bin_dir / "python")}
        elif uses.startswith("actions/cache/restore@"):
            outputs = {"cache-primary-key": inputs["key"]}
            entry = cache / inputs["key"]
            if entry.is_dir():
                for i, raw in enumerate(inputs["path"].split()):
                    target = Path(raw.replace("~", str(home), 1))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.rmtree(target, ignore_errors=True)
                    if (entry / str(i)).is_symlink():  # an entry a test filled with a link to a folder
                        target.symlink_to(os.readlink(entry / str(i)))
                    else:
                        shutil.copytree(entry / str(i), target, symlinks=True, copy_function=os.link)
                outputs["cache-hit"] = "true"
        elif uses.startswith("actions/cache/save@"):
            entry = cache / inputs["key"]
            if not entry.exists():  # else: a warning, "another job may be creating this cache"
                for i, raw in enumerate(inputs["path"].split()):
                    source = Path(raw.replace("~", str(home), 1))
                    if source.exists():
                        shutil.copytree(source, entry / str(i), symlinks=True, copy_function=os.link)
        elif uses == REPORTER:
            reporter = reporter_v1(inputs["runners"], env)
            outcome = "failure" if reporter.failed else "success"
            text = "\n".join([*reporter.console, *reporter.notices])
        else:
            raise AssertionError(f"the simulated runner does not know the action {uses!r}")
        ctx.steps[sid] = {"outcome": outcome, "conclusion": outcome, "outputs": outputs}
        if outcome == "failure":
            ctx.failed = True
        runs.append(StepRun(sid, step.get("name", sid), outcome, time.monotonic() - started, text, outputs))
    return JobRun(runs, reporter, summary_file.read_text())
