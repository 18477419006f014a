# expect: failed
# The output files are capped by RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG instead.
import sys
chunk = "x" * (1 << 20)
while True: sys.stdout.write(chunk)
