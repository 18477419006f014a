# expect: failed
import os
written = 0
for i in range(4096):
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        with open(f"{d}/fill{i}", "wb") as f: f.write(b"\0" * (1 << 20))
        written += 1
# 12 GB written somewhere: escaped the caps, and the run reaches the sentinel ("passed")
