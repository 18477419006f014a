# expect: failed
# Every world-writable directory of the host (the test finds them by scanning the host, so
# /run/lock, /dev/shm or whatever this host adds are here, not only /tmp and /var/tmp): a file,
# a directory, and the same through /proc/self/root. Any that lands is an escape.
import os
hits = []
for d in {writable_dirs}:
    for base in (d, "/proc/self/root" + d):
        try:
            with open(os.path.join(base, "{planted}"), "x") as f: f.write("pwned")
            hits.append(base)
        except OSError: pass
        try: os.mkdir(os.path.join(base, "{planted}.d")); hits.append(base + "/")
        except OSError: pass
print(hits)
if not hits: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
