# expect: failed
popen = next(c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "Popen")
rc = popen(["sh", "-c", "echo pwned > {canary}/via-subclasses"]).wait()
if rc: raise SystemExit(rc)   # an escape reaches the sentinel: "passed"
