# expect: failed
import socket
socket.getaddrinfo("pypi.org", 443)
