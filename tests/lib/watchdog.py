#!/usr/bin/python3
"""watchdog.py WATCH_PID TARGET_PID [MAX_SECONDS]

Test helper: when WATCH_PID (the test script) is gone, send SIGTERM to
TARGET_PID (e.g. a Dovecot master), then SIGKILL 5 s later if it is still
there. Exits at once on SIGTERM, and by itself after MAX_SECONDS (default
3600) or when TARGET_PID is gone.
"""
import os
import signal
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main():
    watch, target = int(sys.argv[1]), int(sys.argv[2])
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else 3600.0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not alive(target):
            return
        if not alive(watch):
            break
        time.sleep(0.5)
    try:
        os.kill(target, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            if not alive(target):
                return
        os.kill(target, signal.SIGKILL)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    main()
