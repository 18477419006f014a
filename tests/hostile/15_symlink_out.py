# expect: failed
import os
os.symlink("{canary}/keep.txt", "/tmp/link")
try:
    with open("/tmp/link", "a") as f: f.write("pwned")   # an escape reaches the sentinel: "passed"
except OSError: raise SystemExit(1)
