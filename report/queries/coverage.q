# Records of this trace format (not look-alikes, not junk), for the days x servers coverage.
kind in (protocol, diagnostic, other) and week {week}
