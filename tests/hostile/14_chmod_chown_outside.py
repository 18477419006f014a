# expect: failed
import os
hit = False
for fn in (lambda p: os.chmod(p, 0o777), lambda p: os.chown(p, os.getuid(), os.getgid())):
    try: fn("{canary}/keep.txt"); hit = True
    except OSError: pass
if not hit: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
