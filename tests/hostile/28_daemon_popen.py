# expect: passed
import subprocess
subprocess.Popen(["sleep", "600"], start_new_session=True)
