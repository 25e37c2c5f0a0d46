"""A helper process whose library crashes for real (a read at address 0), or echoes."""
import ctypes

from drivers.helper_process import serve


def handle(req, send):
    if req["op"] == "crash":
        ctypes.string_at(0)
    send(b"E", req["text"].encode())


if __name__ == "__main__":
    serve(handle)
