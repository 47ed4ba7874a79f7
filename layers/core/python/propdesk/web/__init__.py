"""What people see over HTTP: owners' pay pages (HTML, every value escaped) and the staff API's
JSON errors, one vocabulary for every function behind the API."""
