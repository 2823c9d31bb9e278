# SUBSCRIBE requests for which no final response was logged (stuck in "Subscribing").
type = request and method = SUBSCRIBE and not response exists and week {week}
