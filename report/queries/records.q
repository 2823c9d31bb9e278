# Every record of the week.
week {week}
