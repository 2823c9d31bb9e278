# SUBSCRIBE requests (the report keeps those of trusted applications).
type = request and method = SUBSCRIBE and week {week}
