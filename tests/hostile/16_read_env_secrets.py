# expect: failed
import os
found = "{secret}" in os.environ
for pid in os.listdir("/proc"):
    if not pid.isdigit(): continue
    try: found = found or b"{secret_value}" in open(f"/proc/{pid}/environ", "rb").read()
    except OSError: pass
if not found: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
