"""What the tests share: the application for tests (`app`), a real server (`live_server`),
a browser's requests (`web`: sign-in, CSRF tokens, the citizen form), factories for the
organisation and responses (`factories`), result comparison (`checks`) and the browser
tests' Chromium (`browser`). Test modules import from here, never from each other."""
