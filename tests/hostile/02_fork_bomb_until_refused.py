# expect: failed
import os, time
kids = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        kids += 1
except OSError:
    raise SystemExit(f"refused after {kids} processes")
