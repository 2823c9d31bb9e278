# Senders of SUBSCRIBEs with a UCMA user agent: trusted applications by default.
type = request and method = SUBSCRIBE and user_agent ~ "RTCC/*" and week {week}
