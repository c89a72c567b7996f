#!/usr/bin/env python3
"""pty_answer.py - runs a command with a pseudo-terminal as its controlling
terminal (its /dev/tty), answering its prompts there, as a person would.

usage: pty_answer.py ANSWERS TRANSCRIPT OUT ERR -- COMMAND [ARG...]

ANSWERS is a file of one answer per line (kept off argv, as passwords are);
a line "^D" types Ctrl-D (end of input) instead.  Each answer is typed only
once a prompt (text ending in ": ") has appeared on the terminal and echo is
off there: cairn flushes pending input when it turns echo off, so an answer
typed earlier would be lost.  TRANSCRIPT gets everything the command wrote
to the terminal (so a test can check that no answer was echoed); stdin is
the terminal, stdout and stderr go to OUT and ERR.  Exits with the
command's exit code; 124 when it did not finish within 30 s."""
import os
import pty
import select
import signal
import sys
import termios
import time

answers_file, transcript_file, out_file, err_file = sys.argv[1:5]
assert sys.argv[5] == '--', 'usage: pty_answer.py ANSWERS TRANSCRIPT OUT ERR -- COMMAND...'
command = sys.argv[6:]
with open(answers_file) as f:
    answers = f.read().splitlines()

pid, fd = pty.fork()
if pid == 0:
    os.dup2(os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
    os.dup2(os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)

deadline = time.monotonic() + 30
seen = b''
asked = 0  # prompts answered so far


def read_some(timeout):
    """Appends what the terminal shows within timeout; False at its end."""
    global seen
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: every holder of the terminal closed it
        return False
    if not data:
        return False
    seen += data
    return True


def echo_off():
    try:
        return not termios.tcgetattr(fd)[3] & termios.ECHO
    except termios.error:
        return False


alive = True
while alive and time.monotonic() < deadline:
    alive = read_some(0.05)
    prompts = seen.count(b': ')
    if asked < len(answers) and prompts > asked and seen.endswith(b': ') and echo_off():
        a = answers[asked]
        os.write(fd, b'\x04' if a == '^D' else a.encode() + b'\n')
        asked += 1

if alive:  # the deadline passed
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
with open(transcript_file, 'wb') as f:
    f.write(seen)
if alive:
    sys.exit(124)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
