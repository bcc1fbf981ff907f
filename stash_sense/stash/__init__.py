"""Stash access: client.py (HTTP + auth), api.py (every GraphQL document).

CLIENT_MUTATION_ID lives here, not in api.py, so the hook's fast path can recognise the plugin's
own updates without importing the HTTP client (importing `requests` alone costs ~0.2 s)."""

# Sent with every scene update Stash Sense makes: Stash hands the mutation's input to
# Scene.Update.Post hooks, so the plugin's hook recognises (and ignores) its own writes.
CLIENT_MUTATION_ID = "stash_sense"
