"""CloudKitty v2 storage backend that stores rating data in ratestore."""
