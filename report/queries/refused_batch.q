# Users refused inside the rlmi body of a batched subscription response: one row per resource instance.
type = response and method = SUBSCRIBE and resource.diag = 2157 and week {week}
