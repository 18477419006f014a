# expect: passed
import subprocess, sys
# The interpreter is the one program the view is sure to hold (a run sees no /bin/sleep).
subprocess.Popen([sys.executable, "-I", "-S", "-c", "import time; time.sleep(600)"], start_new_session=True)
