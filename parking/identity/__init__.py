"""Who may call: operators, drivers and their plates, devices (bound to a lot) and vehicle
receivers (bound to a driver's plate), their bearer tokens, and the access rules every entry
point applies."""
