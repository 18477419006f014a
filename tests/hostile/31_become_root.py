# expect: failed
import ctypes
raise SystemExit(0 if ctypes.CDLL(None).setuid(0) == 0 else 1)
