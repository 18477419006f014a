# expect: failed
# Unix sockets the test listens on, path-named in /tmp, /run and /dev/shm (mode 0777, so only
# reachability can stop us) and one in the abstract namespace. A connection is an escape.
import socket
hits = []
for path in {unix_sockets}:
    for target in (path, "/proc/self/root" + path):
        s = socket.socket(socket.AF_UNIX); s.settimeout(1)
        try: s.connect(target); s.sendall(b"pwned"); hits.append(target)
        except OSError: pass
        finally: s.close()
s = socket.socket(socket.AF_UNIX); s.settimeout(1)
try: s.connect("\0{abstract}"); s.sendall(b"pwned"); hits.append("@{abstract}")
except OSError: pass
print(hits)
if not hits: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
