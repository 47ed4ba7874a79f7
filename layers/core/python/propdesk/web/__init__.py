"""HTML pages owners see (pay pages). Every value from data or configuration is escaped."""
