# expect: failed
open("/etc/shadow").read()
