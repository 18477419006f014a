# expect: failed
# timeout: 20
# Walk everything the run can see (but /proc): any socket file is tried, any device beyond
# null/zero/urandom and any writable directory outside the working dir is an escape route.
import os, socket, stat
work, hits = os.getcwd(), []
stack = ["/"]
while stack:
    d = stack.pop()
    try: entries = list(os.scandir(d))
    except OSError: continue
    for e in entries:
        if e.path == "/proc": continue
        try: st = e.stat(follow_symlinks=False)
        except OSError: continue
        if stat.S_ISDIR(st.st_mode):
            stack.append(e.path)
            if e.path != work and not e.path.startswith(work + "/") and os.access(e.path, os.W_OK): hits.append(("writable", e.path))
        elif stat.S_ISSOCK(st.st_mode):
            s = socket.socket(socket.AF_UNIX); s.settimeout(1)
            try: s.connect(e.path); hits.append(("connected", e.path))
            except OSError: hits.append(("socket", e.path))
            finally: s.close()
        elif (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and e.path not in ("/dev/null", "/dev/zero", "/dev/urandom"):
            hits.append(("device", e.path))
print(hits)
if not hits: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
