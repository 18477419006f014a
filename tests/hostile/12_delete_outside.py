# expect: failed
import os, shutil
hit = False
for root, dirs, files in os.walk("{canary}"):
    for name in files:
        try: os.remove(os.path.join(root, name)); hit = True
        except OSError: pass
try: shutil.rmtree("{canary}"); hit = True
except OSError: pass
if not hit: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
