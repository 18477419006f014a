# expect: failed
import ctypes
if ctypes.CDLL(None).setuid(0) != 0: raise SystemExit(1)   # root reaches the sentinel: "passed"
