# Users refused later, inside a NOTIFY of the subscription dialog: one row per resource instance.
type = request and method = NOTIFY and resource.diag = 2157 and week {week}
