# expect: failed
import socket
socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"pwned")
