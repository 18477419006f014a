# expect: failed
# /proc/<pid>/root and /proc/<pid>/cwd of every process in sight (and of the host's test
# process, by its host pid): from a root, the canary's absolute path; from a cwd, the same
# after climbing with "..". Reading or writing the canary through any of them is an escape.
import os
pids = sorted({p for p in os.listdir("/proc") if p.isdigit()} | {"self", "thread-self", "1", "{host_pid}"})
hits = []
for pid in pids:
    for link, ups in (("root", [""]), ("cwd", ["/.." * k for k in range(12)])):
        for up in ups:
            path = f"/proc/{pid}/{link}{up}{canary}/open.txt"
            try:
                with open(path, "a") as f: f.write("pwned")
                hits.append(path)
            except OSError: pass
            try: open(f"/proc/{pid}/{link}{up}{canary}/keep.txt").read(); hits.append(path)
            except OSError: pass
print(sorted(set(hits)))
if not hits: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
