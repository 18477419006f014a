# expect: failed
# Files of other users in the directories above the working dir: the harness's own output
# files next to it, other runs' directories, and a world-readable file another uid owns there
# (the test plants it). Reading any file not ours above the working dir is a leak.
import os
work, found = os.getcwd(), []
d = work
while os.path.dirname(d) != "/":
    d = os.path.dirname(d)
    try: names = os.listdir(d)
    except OSError: continue
    for name in names:
        p = os.path.join(d, name)
        paths = [p]
        if p != work and os.path.isdir(p):
            try: paths += [os.path.join(p, m) for m in os.listdir(p)]
            except OSError: pass
        for q in paths:
            try:
                if os.path.isfile(q) and os.stat(q).st_uid != os.getuid():
                    with open(q, "rb") as f: f.read(64)
                    found.append(q)
            except OSError: pass
try:
    if "{other_secret}" in open("{other_file}").read(): found.append("{other_file}")
except OSError: pass
print(found)
if not found: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
