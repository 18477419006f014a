# expect: failed
# Python ignores SIGXFSZ, so the file-size limit surfaces as OSError(EFBIG): contained, and a plain failure.
with open("/tmp/fill", "wb") as f:
    while True: f.write(b"\0" * (1 << 20))
