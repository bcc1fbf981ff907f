"""Stash access: api.py (every GraphQL document) -> client.py (GraphQL answers, files) ->
transport.py (the interface) -> http_transport.py (HTTP, auth, timeouts; standard library only).

CLIENT_MUTATION_ID lives here, not in api.py, so the hook's fast path can recognise the plugin's
own updates without importing the HTTP client (http.client and ssl alone cost ~25 ms)."""

# Sent with every scene update Stash Sense makes: Stash hands the mutation's input to
# Scene.Update.Post hooks, so the plugin's hook recognises (and ignores) its own writes.
CLIENT_MUTATION_ID = "stash_sense"
