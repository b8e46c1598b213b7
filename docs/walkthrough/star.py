# A 64x64 RGBA PNG of a five-pointed star (orange, darker rim) on transparency, with the
# standard library only.
import math, struct, zlib
N = 64
def inside(x, y, r_out, r_in):
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        r = r_out if k % 2 == 0 else r_in
        pts.append((N / 2 + r * math.cos(a), N / 2 + 2 + r * math.sin(a)))
    c = False
    for i in range(10):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % 10]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            c = not c
    return c
rows = []
for y in range(N):
    row = b"\0"
    for x in range(N):
        if inside(x + .5, y + .5, 26, 11):
            rim = not inside(x + .5, y + .5, 23, 9)
            row += bytes((200, 90, 20, 255) if rim else (255, 170, 40, 255))
        else:
            row += bytes((0, 0, 0, 0))
    rows.append(row)
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
open("star.png", "wb").write(png)
