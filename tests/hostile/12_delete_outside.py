# expect: failed
import os, shutil
hit = False
for root, dirs, files in os.walk("{canary}"):
    for name in files:
        try: os.remove(os.path.join(root, name)); hit = True
        except OSError: pass
try: shutil.rmtree("{canary}"); hit = True
except OSError: pass
raise SystemExit(0 if hit else 1)
