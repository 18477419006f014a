# expect: failed
# The output files are capped by RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG instead.
import os
chunk = b"x" * (1 << 20)
while True: os.write(2, chunk)
