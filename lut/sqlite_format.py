"""SQLite's file format, read byte by byte (sqlite.org/fileformat2.html): the header's page
size, b-tree pages and their cells, records, overflow chains and the freelist.

Used by :mod:`lut.pages` on files SQLite itself refuses, so nothing here trusts more of the file
than it must: the page count is the file's length (not the header's), a page cut short yields
the cells that lie wholly inside it, and whatever does not decode raises :class:`FormatError`
(a whole page) or comes back as None (one cell). A write-ahead log beside the file (a writer
killed before its checkpoint) supplies the newest committed image of the pages it holds
(:func:`wal_pages`: only frames whose salts and running checksums hold, up to the last commit).
"""

from __future__ import annotations

import struct

_MAGIC = b"SQLite format 3\x00"
TABLE_LEAF, TABLE_INTERIOR, INDEX_LEAF, INDEX_INTERIOR = 13, 5, 10, 2
_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


class FormatError(Exception):
    """A structure that does not decode (damaged or cut short)."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if pos + i >= len(buf):
            raise FormatError("varint past the end")
        byte = buf[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    if pos + 8 >= len(buf):
        raise FormatError("varint past the end")
    return (value << 8) | buf[pos + 8], pos + 9


def decode_record(payload: bytes) -> list:
    """The values of one record (None, int, float, str, bytes); raises :class:`FormatError`."""
    header_size, pos = _varint(payload, 0)
    if not 1 <= header_size <= len(payload):
        raise FormatError("record header size")
    types = []
    while pos < header_size:
        serial, pos = _varint(payload, pos)
        types.append(serial)
    if pos != header_size:
        raise FormatError("record header overruns")
    values, body = [], header_size
    for serial in types:
        if serial == 0:
            values.append(None)
        elif serial in _INT_SIZES:
            size = _INT_SIZES[serial]
            values.append(int.from_bytes(payload[body : body + size], "big", signed=True))
            body += size
        elif serial == 7:
            values.append(struct.unpack(">d", payload[body : body + 8])[0])
            body += 8
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial >= 12:
            size = (serial - 12) // 2
            raw = payload[body : body + size]
            values.append(raw if serial % 2 == 0 else raw.decode("utf-8", "surrogateescape"))
            body += size
        else:
            raise FormatError(f"serial type {serial}")
        if body > len(payload):
            raise FormatError("record body overruns")
    if body != len(payload):
        raise FormatError("record body size")
    return values


_WAL_MAGIC = (0x377F0682, 0x377F0683)  # checksums of little- / big-endian words


def _wal_checksum(data: bytes, sums: tuple[int, int], big: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big else '<'}{len(data) // 4}I", data)
    s0, s1 = sums
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_pages(wal: bytes) -> tuple[int, dict[int, bytes]]:
    """(page size, page number -> newest committed image) of a write-ahead log; (0, {}) when
    its header does not read."""
    if len(wal) < 32 or int.from_bytes(wal[:4], "big") not in _WAL_MAGIC:
        return 0, {}
    big, size = bool(wal[3] & 1), int.from_bytes(wal[8:12], "big")
    sums = _wal_checksum(wal[:24], (0, 0), big)
    if size < 512 or size & (size - 1) or sums != struct.unpack(">II", wal[24:32]):
        return 0, {}
    frames, committed, pos = [], 0, 32
    while pos + 24 + size <= len(wal):
        head, image = wal[pos : pos + 24], wal[pos + 24 : pos + 24 + size]
        if head[8:16] != wal[16:24]:
            break  # a frame of an earlier log generation
        sums = _wal_checksum(head[:8] + image, sums, big)
        if sums != struct.unpack(">II", head[16:24]):
            break  # torn or damaged: nothing after it counts
        frames.append((int.from_bytes(head[:4], "big"), image))
        if int.from_bytes(head[4:8], "big"):  # a commit frame
            committed = len(frames)
        pos += 24 + size
    return size, dict(frames[:committed])


class PageFile:
    """The pages of one file, as far as the file goes, with those of its write-ahead log."""

    def __init__(self, data: bytes, wal: bytes = b"") -> None:
        if not data.startswith(_MAGIC) or len(data) < 100:
            raise FormatError("no SQLite header")
        self.data = data
        self.page_size = self._page_size()
        wal_size, self.logged = wal_pages(wal)
        if wal_size != self.page_size:
            self.logged = {}
        header = self.logged.get(1, data)
        self.usable = self.page_size - header[20]
        self.freelist_head = int.from_bytes(header[32:36], "big")
        self.count = max(  # the file's pages, not the header's
            -(-len(data) // self.page_size), max(self.logged, default=0)
        )

    def _page_size(self) -> int:
        size = int.from_bytes(self.data[16:18], "big")
        size = 65536 if size == 1 else size
        if size >= 512 and size & (size - 1) == 0:
            return size

        # a damaged field: the size whose page starts hold the most b-tree page types
        def score(candidate: int) -> int:
            starts = range(candidate, len(self.data), candidate)
            return sum(self.data[s] in (2, 5, 10, 13) for s in starts)

        return max((512 << k for k in range(8)), key=score)

    def page(self, number: int) -> bytes:
        """Page ``number`` (from 1); shorter than a page when the file is cut inside it."""
        if not 1 <= number <= self.count:
            raise FormatError(f"page {number} is past the end of the file")
        if number in self.logged:
            return self.logged[number]
        start = (number - 1) * self.page_size
        return self.data[start : start + self.page_size]

    def btree(self, number: int) -> tuple[bytes, int, int, list[int]]:
        """(page, its type, header offset, cell offsets) of a b-tree page."""
        page = self.page(number)
        head = 100 if number == 1 else 0
        if len(page) < head + 8:
            raise FormatError(f"page {number} is cut short")
        kind = page[head]
        if kind not in (TABLE_LEAF, TABLE_INTERIOR, INDEX_LEAF, INDEX_INTERIOR):
            raise FormatError(f"page {number} is no b-tree page")
        cells = int.from_bytes(page[head + 3 : head + 5], "big")
        first = head + (8 if kind in (TABLE_LEAF, INDEX_LEAF) else 12)
        offsets = []
        for i in range(cells):
            at = first + 2 * i
            if at + 2 > len(page):
                break  # the rest of the pointer array is past the end of the file
            offsets.append(int.from_bytes(page[at : at + 2], "big"))
        return page, kind, head, offsets

    def payload(self, page: bytes, pos: int, size: int, index: bool) -> bytes:
        """The ``size`` payload bytes of a cell starting at ``pos``, overflow pages included."""
        u = self.usable
        most = (u - 12) * 64 // 255 - 23 if index else u - 35
        if size <= most:
            local = size
        else:
            least = (u - 12) * 32 // 255 - 23
            local = least + (size - least) % (u - 4)
            local = local if local <= most else least
        if pos + local > len(page) or (local < size and pos + local + 4 > len(page)):
            raise FormatError("cell past the end of its page")
        out = bytearray(page[pos : pos + local])
        following, seen = int.from_bytes(page[pos + local : pos + local + 4], "big"), set()
        while len(out) < size:
            if following in seen or following == 0:
                raise FormatError("broken overflow chain")
            seen.add(following)
            over, take = self.page(following), min(u - 4, size - len(out))
            if len(over) < 4 + take:
                raise FormatError("overflow page cut short")
            following = int.from_bytes(over[:4], "big")
            out += over[4 : 4 + take]
        return bytes(out[:size])

    def cells(self, number: int) -> tuple[int, list[tuple[int | None, bytes | None]]]:
        """(page type, cells) of a b-tree page. A cell is (row id, payload) on a table leaf,
        (child page, None) on a table interior page, (None, payload) on an index leaf and
        (child page, payload) on an index interior page; an interior page's right-most child
        comes last as (child, None). A part of a cell that does not read is None."""
        page, kind, head, offsets = self.btree(number)
        interior = kind in (TABLE_INTERIOR, INDEX_INTERIOR)
        out: list[tuple[int | None, bytes | None]] = []
        for offset in offsets:
            ref, payload, pos = None, None, offset
            try:
                if interior:
                    if pos + 4 > len(page):
                        raise FormatError("cell past the end")
                    ref, pos = int.from_bytes(page[pos : pos + 4], "big"), pos + 4
                if kind == TABLE_INTERIOR:
                    out.append((ref, None))
                    continue
                size, pos = _varint(page, pos)
                if kind == TABLE_LEAF:
                    ref, pos = _varint(page, pos)
                    ref -= (ref >> 63) << 64  # a signed 64-bit integer
                payload = self.payload(page, pos, size, kind != TABLE_LEAF)
            except FormatError:
                pass
            out.append((ref, payload))
        if interior and len(page) >= head + 12:
            out.append((int.from_bytes(page[head + 8 : head + 12], "big"), None))
        return kind, out

    def freelist(self) -> set[int]:
        """The pages on the freelist, as far as its chain reads."""
        free, trunk, seen = set(), self.freelist_head, set()
        while trunk and trunk not in seen:
            seen.add(trunk)
            free.add(trunk)
            try:
                page = self.page(trunk)
            except FormatError:
                break
            n = int.from_bytes(page[4:8], "big")
            for i in range(min(n, (len(page) - 8) // 4)):
                free.add(int.from_bytes(page[8 + 4 * i : 12 + 4 * i], "big"))
            trunk = int.from_bytes(page[:4], "big")
        return free

    def walk(self, root: int) -> tuple[list[int], list[int]]:
        """(leaf pages, every page) of the b-tree at ``root``, as far as it reads."""
        leaves, pages, todo = [], [], [root]
        while todo:
            number = todo.pop()
            if number in pages:
                continue
            try:
                kind, cells = self.cells(number)
            except FormatError:
                continue
            pages.append(number)
            if kind in (TABLE_LEAF, INDEX_LEAF):
                leaves.append(number)
            else:
                todo += [child for child, _ in cells if child and child not in pages]
        return leaves, pages
