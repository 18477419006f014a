"The sandbox against a hostile corpus: every program gets its expected status, and the host is intact afterwards."
import hashlib
import os
import re
import socket
import threading
from pathlib import Path

import pytest

from datascope_nb.sandbox import STATUSES, run_many, run_untrusted, sandbox_isolation, sandbox_processes

HOSTILE = Path(__file__).parent / "hostile"
SECRET = "DATASCOPE_TEST_SECRET"


def hostile_programs() -> list[tuple[str, str, str]]:
    "(name, expected status, source) for every program in tests/hostile/, read from its `# expect:` line."
    out = []
    for path in sorted(HOSTILE.glob("*.py")):
        source = path.read_text()
        m = re.match(r"# expect: (\w+)\n", source)
        assert m and m.group(1) in STATUSES, f"{path.name}: first line must be '# expect: <status>'"
        out.append((path.stem, m.group(1), source))
    return out


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_hostile_corpus_is_large_enough():
    progs = hostile_programs()
    assert len(progs) >= 25
    assert {e for _, e, _ in progs} == set(STATUSES), "every status is exercised"


@pytest.mark.skipif(sandbox_isolation() != "namespaces",
                    reason="hostile code needs namespaces and a uid drop (root + unshare); the rlimits mode is not safe for it")
def test_hostile_corpus_is_contained_and_the_host_is_intact(root, tmp_path, monkeypatch):
    # A canary directory outside any sandbox, owned by root with normal permissions.
    canary = root / "runs" / f"sandbox-canary-{os.getpid()}"
    canary.mkdir(parents=True, exist_ok=True)
    (canary / "keep.txt").write_text("canary\n")
    (canary / "sub").mkdir(exist_ok=True)
    (canary / "sub" / "keep2.txt").write_text("canary 2\n")
    os.chmod(canary, 0o755)
    before = _digest(canary)
    secret_value = "s3cr3t-" + os.urandom(8).hex()
    monkeypatch.setenv(SECRET, secret_value)
    # A host listener: any connection that reaches it is an escape.
    server = socket.socket()
    server.bind(("127.0.0.1", 0)); server.listen(8); server.settimeout(0.2)
    port, hits, stop = server.getsockname()[1], [], threading.Event()
    def accept():
        while not stop.is_set():
            try: hits.append(server.accept())
            except OSError: pass
    listener = threading.Thread(target=accept, daemon=True); listener.start()
    try:
        progs = hostile_programs()
        fill = {"{canary}": str(canary), "{port}": str(port), "{secret}": SECRET, "{secret_value}": secret_value,
                "{host_pid}": str(os.getpid())}
        sources = []
        for _, _, src in progs:
            for key, value in fill.items(): src = src.replace(key, value)
            sources.append(src)
        results = run_many(sources, workers=2, timeout=3, memory_mb=512, desc=None)
        wrong = {name: (expect, r["status"], r["stderr"][-300:]) for (name, expect, _), r in zip(progs, results) if r["status"] != expect}
        assert not wrong, wrong
        assert all(r["isolation"] == "namespaces" for r in results)
        # The host afterwards: nothing left running, canaries untouched, no connection, and the harness still answers.
        assert sandbox_processes() == []
        assert _digest(canary) == before
        assert hits == []
        assert run_untrusted("print(6 * 7)")["stdout"] == "42"
    finally:
        stop.set(); server.close(); listener.join(2)


def test_concurrent_runs_get_separate_uids():
    results = run_many(["import os; print(os.getuid())"] * 4, workers=4, desc=None)
    uids = {r["stdout"] for r in results}
    if sandbox_isolation() == "namespaces": assert len(uids) == 4 and "0" not in uids
    assert all(r["status"] == "passed" for r in results)
