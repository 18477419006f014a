# expect: failed
import os
os.close(1)
