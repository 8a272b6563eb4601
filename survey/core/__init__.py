"""The domain core: everything the survey knows and does, for every channel alike.

Functions here take a SQLAlchemy Session and plain arguments, raise the project's errors
(`survey.core.errors`), and write their own audit events with the actor passed in, so
the web pages, the `flask` commands, the API and the imports behave the same way. Nothing
here reads a Flask request; the web layer (`survey.web`) and the commands
(`survey.commands`) call in, never the other way round. The statistics come from the pure
engine in `survey.ikm`.
"""
