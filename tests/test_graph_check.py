"""`streamer check` finds what would otherwise fail once the graph runs, and says where and
what to do."""
import os
import subprocess
import sys

import pytest

from tests.runtime_helpers import ROOT



def check(graph, *args, cwd=ROOT):
    """`streamer check` in a subprocess, from `cwd`, on this checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "streamer", "check", str(graph), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("content,line,found", [
    (b"nodes:\n  {[a]: 1}\n", 2, "a key must be a name or a number, not a list"),
    (b"nodes:\n  ? [a]\n  : {type: util.counter}\n", 2, "a key must be a name or a number, not a list"),
    (b"nodes:\n  a: {type: util.counter}\n  b: {type: \"\xe9\"}\n", 3, "the file is not UTF-8 text (byte 0xe9)"),
    (b"nodes:\n  a: {type: util.counter}\n  b: \x01\n", 3, "character 0x0001 is not allowed in YAML"),
])
def test_files_yaml_cannot_read_are_problems_with_a_line(tmp_path, content, line, found):
    g = tmp_path / "g.yaml"
    g.write_bytes(content)
    out = check(g)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"{g}:{line}: {found}" in out.stderr
