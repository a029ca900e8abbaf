"""Runs a command so that it dies with the process that started it, however that one dies.

`python -I -S child_guard.py PARENT_PID -- ARGV...` is started as the leader of a new process
group. It asks Linux to signal it when its parent dies (`PR_SET_PDEATHSIG`), runs ARGV in its
own group, and relays ARGV's exit. When the parent dies (even by SIGKILL) or sends it SIGTERM,
it kills the whole group: the command and everything the command started. The parent-death
setting alone would not do: Linux clears it in every fork, so a shell's children outlive it.

Only the standard library, imported lazily by the interpreter at start-up: this file runs as a
script, never as a part of the `pit` package, so a command starts in a few milliseconds.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
CANNOT_START = 127
"""Exit code when ARGV cannot be started (as a shell says); the reason is on stderr."""
MARKER = "pit-child-guard: cannot start: "


def main(argv: list[str]) -> int:
    parent, command = int(argv[1]), argv[3:]
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # a group of our own, whatever the starter forgot: we kill all of it
    signal.signal(signal.SIGTERM, _kill_group)
    signal.signal(signal.SIGHUP, _kill_group)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        _kill_group(signal.SIGTERM, None)
    child = os.fork()
    if child == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            os.execvp(command[0], command)
        except OSError as error:
            os.write(2, f"{MARKER}{command[0]}: {error.strerror}\n".encode())
        os._exit(CANNOT_START)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        # die of the same signal, so the parent sees what the command saw
        number = os.WTERMSIG(status)
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    return os.waitstatus_to_exitcode(status)


def _kill_group(_signum: int, _frame: object) -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
