"""Administration pages: agencies, desks, services, users, periods, service volumes."""
