# Records the parser had to repair or could not fully parse.
malformed = true and week {week}
