# expect: failed
import os
found = "{secret}" in os.environ
for pid in os.listdir("/proc"):
    if not pid.isdigit(): continue
    try: found = found or b"{secret_value}" in open(f"/proc/{pid}/environ", "rb").read()
    except OSError: pass
raise SystemExit(0 if found else 1)
