# expect: failed
import atexit, os
atexit.register(lambda: os._exit(0))
raise RuntimeError("tests failed, but exit with 0 anyway")
