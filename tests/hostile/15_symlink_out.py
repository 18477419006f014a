# expect: failed
import os
os.symlink("{canary}/keep.txt", "/tmp/link")
try:
    with open("/tmp/link", "a") as f: f.write("pwned")
    raise SystemExit(0)
except OSError: raise SystemExit(1)
