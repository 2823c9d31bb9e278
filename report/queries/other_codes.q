# ms-diagnostics codes other than 2157.
diag exists and not diag = 2157 and week {week}
