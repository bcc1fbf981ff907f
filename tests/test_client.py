"""The thin Stash client: session cookie auth, API-key fallback after the session ends, errors."""
import pytest

from stash_sense.errors import StashRequestError, StashUnreachable
from stash_sense.stash.api import StashAPI
from stash_sense.stash.client import StashClient


@pytest.fixture
def stash_options():
    """Stash with authentication on and an API key, as the client meets it in real installs."""
    return {"require_auth": True, "api_key": "k-123"}


def test_host_0000_means_local_and_the_session_cookie_authenticates(stash):
    client = StashClient(stash.server_connection())
    assert client.base_url.startswith("http://127.0.0.1:")
    assert StashAPI(client).plugin_settings("stash_sense") == {}


def test_api_key_fallback_when_the_session_expires(stash):
    client = StashClient(stash.server_connection())
    client.enable_api_key_fallback()
    stash._cookies.clear()                      # the one-hour session ended mid-task
    assert StashAPI(client).plugin_settings("stash_sense") == {}
    assert stash.http_log[-1][2] == 200


def test_without_a_key_an_expired_session_is_a_clear_error(stash):
    client = StashClient(stash.server_connection())
    stash._cookies.clear()
    with pytest.raises(StashUnreachable, match="401"):
        StashAPI(client).plugin_settings("stash_sense")


def test_graphql_errors_are_scene_errors_with_stash_s_message(stash):
    client = StashClient(stash.server_connection())
    tag = StashAPI(client).create_tag("Pool", parent_ids=[])
    with pytest.raises(StashRequestError, match="already exists"):
        StashAPI(client).create_tag("pool", parent_ids=[])
    assert tag["name"] == "Pool"


def test_fetch_rewrites_external_host_urls_to_the_local_base(stash):
    client = StashClient(stash.server_connection())
    assert client.local_url("https://stash.example.com/scene/abc_sprite.jpg?x=1") == \
        f"{client.base_url}/scene/abc_sprite.jpg?x=1"
