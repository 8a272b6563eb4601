"""The organisation: agencies (and the hierarchy an MPP or a regency forms), their desks
and services, staff accounts and API tokens, reporting periods, and service volumes.

Shared by the `flask` commands, the admin pages and the demo seed. Every function
validates its input and raises ValidationError / NotFound with a message fit for the user;
every change writes its audit event with the actor it is given; the caller commits.
"""
