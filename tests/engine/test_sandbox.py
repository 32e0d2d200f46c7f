"""The sandbox layers, each applied in a fresh process that then tries what the layer must stop."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.engine.child.sandbox import expand_allowed

PROBE = textwrap.dedent('''
    import json, os, socket, sys
    from pathlib import Path
    from autograder.engine.child import sandbox
    secret, work = Path(sys.argv[1]), Path(sys.argv[2])
    layers = {"network": sandbox.no_network()}
    sandbox.limit_resources(None, 1 << 20, 64, 60)
    ro = [Path(p) for p in ("/usr", "/lib", "/lib64", "/bin", "/etc", sys.prefix, sys.base_prefix)]
    ro += [Path(p) for p in sys.path if p and os.path.isdir(p)]
    layers["files"] = sandbox.landlock(sandbox.expand_allowed(ro, [secret.parent]), [work], [Path("/dev/null")])
    layers["syscalls"] = sandbox.seccomp()
    def attempt(fn):
        try:
            fn()
            return "allowed"
        except BaseException as e:
            return type(e).__name__
    out = {"layers": layers,
           "read_secret": attempt(lambda: secret.read_text()),
           "write_work": attempt(lambda: (work / "ok.txt").write_text("fine")),
           "fork": attempt(lambda: os.fork() or os._exit(0)),
           "exec": attempt(lambda: os.execv("/bin/true", ["true"])),
           "connect": attempt(lambda: socket.create_connection(("127.0.0.1", 9), timeout=2)),
           "big_file": attempt(lambda: (work / "big").write_bytes(b"x" * (2 << 20)))}
    print(json.dumps(out))
''')


@pytest.fixture(scope="module")
def confined(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("sandbox")
    secret = base / "private" / "labels.txt"
    secret.parent.mkdir()
    secret.write_text("the test labels")
    work = base / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-I", "-c", PROBE, str(secret), str(work)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_layer_reports_whether_it_held(confined: dict) -> None:
    layers = confined["layers"]
    assert set(layers) == {"network", "files", "syscalls"}
    if not layers["files"].startswith("landlock"):
        pytest.skip(f"this kernel has no Landlock: {layers['files']}")
    assert layers["syscalls"].startswith("seccomp") and "namespace" in layers["network"]


def test_landlock_hides_files_outside_the_allowed_folders(confined: dict) -> None:
    if not confined["layers"]["files"].startswith("landlock"):
        pytest.skip("no Landlock on this kernel")
    assert confined["read_secret"] == "PermissionError"
    assert confined["write_work"] == "allowed"


def test_seccomp_refuses_new_processes(confined: dict) -> None:
    if not confined["layers"]["syscalls"].startswith("seccomp"):
        pytest.skip(confined["layers"]["syscalls"])
    assert confined["fork"] == "PermissionError" and confined["exec"] == "PermissionError"


def test_no_connection_leaves_the_network_namespace(confined: dict) -> None:
    assert confined["connect"] != "allowed"


def test_the_file_size_limit_holds(confined: dict) -> None:
    assert confined["big_file"] == "OSError"


def test_expand_allowed_carves_a_denied_folder_out_of_an_allowed_one(tmp_path: Path) -> None:
    for name in ("a/keep", "a/deny/x", "a/deny2"):
        (tmp_path / name).mkdir(parents=True)
    allowed = expand_allowed([tmp_path / "a"], [tmp_path / "a" / "deny"])
    assert tmp_path / "a" / "keep" in allowed and tmp_path / "a" / "deny2" in allowed
    assert not any(p == tmp_path / "a" / "deny" or tmp_path / "a" / "deny" in p.parents for p in allowed)
