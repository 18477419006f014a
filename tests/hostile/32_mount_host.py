# expect: failed
import os
raise SystemExit(os.system("mount -t tmpfs none /mnt 2>/dev/null") and 1)
