# expect: crashed
import json, sys
# Python-to-Python calls no longer use the C stack (3.11+); the C JSON encoder does.
sys.setrecursionlimit(10 ** 8)
nested = []
for _ in range(10 ** 6): nested = [nested]
json.dumps(nested)
