# expect: passed
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(120)
        open("{canary}/daemon-was-here", "w").write("pwned")
    os._exit(0)
