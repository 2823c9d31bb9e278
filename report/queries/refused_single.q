# Single SUBSCRIBEs refused with ms-diagnostics 2157: one row per response.
type = response and method = SUBSCRIBE and diag = 2157 and week {week}
