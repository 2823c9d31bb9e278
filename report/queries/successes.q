# Successful subscriptions: 2xx single subscriptions, and active users of batched ones.
type = response and method = SUBSCRIBE and ((status >= 200 and status < 300 and not resource exists) or resource.state = active) and week {week}
