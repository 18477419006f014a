# expect: failed
b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
b["__import__"]("os").setuid(0)
