# expect: failed
hit = False
for path in ("{canary}/planted.txt", "/planted.txt", "/etc/planted.txt", "/root/planted.txt", "/usr/planted.txt"):
    try:
        with open(path, "w") as f: f.write("pwned"); hit = True
    except OSError: pass
raise SystemExit(0 if hit else 1)
