# expect: oom
# timeout: 20
hog = []
while True: hog.append(bytearray(50 << 20))
