"""The PostgreSQL advisory lock every migration run holds, so concurrent upgrades take turns."""

# Any constant shared by every copy of the app: "projecta" read as a 64-bit integer.
ADVISORY_LOCK_ID = int.from_bytes(b"projecta", "big") & 0x7FFF_FFFF_FFFF_FFFF
