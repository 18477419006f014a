# expect: failed
import os
if os.system("mount -t tmpfs none /mnt 2>/dev/null"): raise SystemExit(1)   # a mount reaches the sentinel: "passed"
