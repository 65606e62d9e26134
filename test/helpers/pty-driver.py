#!/usr/bin/env python3
"""Runs a command in a real pseudo-terminal and answers its prompts.

usage: pty-driver.py SCRIPT.json
SCRIPT: {"argv": [...], "env": {...}, "steps": [{"expect": "text", "send": "answer\\r"}, ...], "timeout": 30}
Each step waits until `expect` has appeared in the output (ANSI codes stripped), then types `send`.
Prints the whole transcript and exits with the command's exit code (124 on a timeout).
"""
import json, os, pty, re, select, sys, time

spec = json.load(open(sys.argv[1]))
env = dict(os.environ)
env.update(spec.get("env", {}))
env.setdefault("TERM", "xterm-256color")
env.pop("CI", None)
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(spec["argv"][0], spec["argv"], env)

deadline = time.time() + spec.get("timeout", 30)
out = b""
ansi = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")

def read_some(wait):
    global out
    r, _, _ = select.select([fd], [], [], wait)
    if not r:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:
        return False
    if not data:
        return False
    out += data
    return True

alive = True
for step in spec["steps"]:
    want = step["expect"].encode()
    while alive and want not in ansi.sub(b"", out):
        if time.time() > deadline:
            sys.stdout.write(out.decode("utf8", "replace"))
            sys.stdout.write("\n[pty-driver] timed out waiting for %r\n" % step["expect"])
            os.kill(pid, 9)
            sys.exit(124)
        alive = read_some(0.1)
    time.sleep(0.15)
    os.write(fd, step["send"].encode())

while alive and time.time() < deadline:
    alive = read_some(0.2)
_, status = os.waitpid(pid, 0)
sys.stdout.write(ansi.sub(b"", out).decode("utf8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
