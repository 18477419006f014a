# expect: failed
# Symlinks and hard links from the working dir to host files: a world-writable one (0666) and
# a root-owned one, by path and through /proc/<host pid>/root. Writing through one is an escape.
import os
hits, n = [], 0
for target in ("{canary}/open.txt", "{canary}/keep.txt", "/proc/{host_pid}/root{canary}/open.txt", "/proc/1/root{canary}/open.txt"):
    for make in (os.symlink, os.link):
        n += 1
        try: make(target, f"link{n}")
        except OSError: continue
        try:
            with open(f"link{n}", "a") as f: f.write("pwned")
            hits.append((make.__name__, target))
        except OSError: pass
print(hits)
if not hits: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
