"""Manage CSV reads a file in bounded memory: a streaming pass over a CSV
allocates about the same whatever the file's size (the bytes themselves
aside), so a 50 MB upload is never held a second time as text."""

import tracemalloc

from spoki_whatsapp_csv.tools.reader import open_table

LINE = "+39 347 {i:07d};Niccolò;Società Perché;niccolo.{i}@example.it;italiano;01/05/1990;città;note è à ù\r\n"


def export(rows, encoding="utf-8"):
    header = "Cellulare;Nome;Cognome;E-mail;Lingua;BIRTHDAY_DATE;Città;Note\r\n"
    return (header + "".join(LINE.format(i=i) for i in range(rows))).encode(encoding)


def peak_of_a_pass(data):
    """Peak bytes allocated by opening ``data`` and reading every row."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        table = open_table(data, "contacts.csv")
        count = sum(1 for _row in table.rows)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_read_peak_does_not_grow_with_the_file():
    small, big = export(20_000), export(200_000)  # ~2 MB and ~20 MB of accented text
    assert len(big) > 19_000_000
    count_small, peak_small = peak_of_a_pass(small)
    count_big, peak_big = peak_of_a_pass(big)
    assert (count_small, count_big) == (20_000, 200_000)
    # the bytes are the caller's; reading them costs a few buffers and rows
    assert peak_big < 6_000_000, f"{peak_big:,} bytes allocated to read {len(big):,} bytes"
    assert peak_big < peak_small + 3_000_000, (peak_small, peak_big)


def test_windows_1252_file_is_detected_in_bounded_memory():
    data = export(100_000, "cp1252")
    count, peak = peak_of_a_pass(data)
    assert count == 100_000
    assert open_table(data).encoding == "cp1252"
    assert peak < 6_000_000, f"{peak:,} bytes allocated to read {len(data):,} bytes"
