"""PropDesk: fee collection and customer service for one residential property."""
