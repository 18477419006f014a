# expect: failed
# Descriptors the program might inherit: any beyond stdin/stdout/stderr (the test holds an
# inheritable one on the canary dir and one on a host file while the corpus runs), a
# directory among 0-2, or the directory that holds stdout's host file, reached by its name.
import os, stat
hits = []
for fd in range(3, 1024):
    try: os.fstat(fd); hits.append(("open fd", fd, os.readlink(f"/proc/self/fd/{fd}")))
    except OSError: pass
for fd in (0, 1, 2):
    try: st = os.fstat(fd)
    except OSError: continue
    if stat.S_ISDIR(st.st_mode): hits.append(("directory fd", fd))
    for rel in ("..", "../stderr", "../stdout"):
        try: open(f"/proc/self/fd/{fd}/{rel}").close(); hits.append(("through fd", fd, rel))
        except OSError: pass
    try: target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError: continue
    if target.startswith("/") and os.path.exists(os.path.join(os.path.dirname(target), "stderr")):
        hits.append(("host dir of", fd, target))
print(hits)
if not hits: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
