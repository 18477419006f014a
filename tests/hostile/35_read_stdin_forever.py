# expect: failed
input()
