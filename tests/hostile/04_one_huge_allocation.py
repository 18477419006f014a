# expect: oom
x = "x" * (1 << 34)
