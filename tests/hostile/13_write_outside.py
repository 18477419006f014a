# expect: failed
hit = False
for path in ("{canary}/planted.txt", "/planted.txt", "/etc/planted.txt", "/root/planted.txt", "/usr/planted.txt"):
    try:
        with open(path, "w") as f: f.write("pwned"); hit = True
    except OSError: pass
if not hit: raise SystemExit(1)  # contained; an escape falls through to the sentinel and reads as "passed"
