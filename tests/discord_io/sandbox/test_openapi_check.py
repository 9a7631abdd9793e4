"""The spec check itself: bodies shaped like Discord's pass, wrong ones fail and say where."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tests.discord_io.sandbox.openapi_check import (
    DOCS_OVERRIDES,
    SPEC_PATH,
    ResponseRecorder,
    SpecMissingError,
    SpecValidator,
    load_spec,
)

API = "/api/v10"
ME = f"{API}/users/@me"
USER = f"{API}/users/{{user_id}}"
APP = f"{API}/oauth2/applications/@me"
GATEWAY_BOT = f"{API}/gateway/bot"
GUILD = f"{API}/guilds/{{guild_id}}"
ROLES = f"{API}/guilds/{{guild_id}}/roles"
MEMBER = f"{API}/guilds/{{guild_id}}/members/{{user_id}}"
CHANNEL = f"{API}/channels/{{channel_id}}"
MESSAGES = f"{API}/channels/{{channel_id}}/messages"
MESSAGE = f"{API}/channels/{{channel_id}}/messages/{{message_id}}"

GUILD_ID = "1100000000000000001"
CHANNEL_ID = "1100000000000000002"
BOT_ID = "1100000000000000003"
NOW = "2026-05-01T12:00:00.000000+00:00"

USER_BODY: dict[str, Any] = {
    "id": BOT_ID,
    "username": "sandbox-bot",
    "avatar": None,
    "discriminator": "0",
    "public_flags": 0,
    "flags": 0,
    "bot": True,
    "banner": None,
    "accent_color": None,
    "global_name": None,
    "primary_guild": None,
}
ME_BODY: dict[str, Any] = {
    **{k: v for k, v in USER_BODY.items() if k != "primary_guild"},
    "mfa_enabled": False,
    "locale": "en-US",
    "verified": True,
    "email": None,
}
APP_BODY: dict[str, Any] = {
    "id": "1100000000000000004",
    "name": "sandbox-app",
    "icon": None,
    "description": "",
    "type": None,
    "bot": USER_BODY,
    "bot_public": True,
    "bot_require_code_grant": False,
    "verify_key": "0" * 64,
    "flags": 0,
    "flags_new": "0",
    "redirect_uris": [],
    "interactions_endpoint_url": None,
    "role_connections_verification_url": None,
    "owner": {**USER_BODY, "id": "1100000000000000005", "username": "owner", "bot": False},
    "approximate_guild_count": 1,
    "approximate_user_install_count": 0,
    "approximate_user_authorization_count": 0,
    "explicit_content_filter": 0,
    "team": None,
    "eligible_oauth2_scopes": ["bot", "applications.commands"],
}
GATEWAY_BOT_BODY: dict[str, Any] = {
    "url": "ws://127.0.0.1:8080",
    "shards": 1,
    "session_start_limit": {
        "total": 1000,
        "remaining": 999,
        "reset_after": 0,
        "max_concurrency": 1,
    },
}
ROLE_BODY: dict[str, Any] = {
    "id": GUILD_ID,
    "name": "@everyone",
    "permissions": "1071698660929",
    "position": 0,
    "color": 0,
    "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
    "hoist": False,
    "managed": False,
    "mentionable": False,
    "icon": None,
    "unicode_emoji": None,
    "flags": 0,
}
GUILD_BODY: dict[str, Any] = {
    "id": GUILD_ID,
    "name": "Sandbox",
    "icon": None,
    "description": None,
    "home_header": None,
    "splash": None,
    "discovery_splash": None,
    "features": [],
    "banner": None,
    "owner_id": "1100000000000000005",
    "application_id": None,
    "region": "deprecated",
    "afk_channel_id": None,
    "afk_timeout": 300,
    "system_channel_id": CHANNEL_ID,
    "system_channel_flags": 0,
    "widget_enabled": False,
    "widget_channel_id": None,
    "verification_level": 0,
    "roles": [ROLE_BODY],
    "default_message_notifications": 0,
    "mfa_level": 0,
    "explicit_content_filter": 0,
    "max_presences": None,
    "max_members": 500000,
    "max_stage_video_channel_users": 50,
    "max_video_channel_users": 25,
    "vanity_url_code": None,
    "premium_tier": 0,
    "premium_subscription_count": 0,
    "preferred_locale": "en-US",
    "rules_channel_id": None,
    "safety_alerts_channel_id": None,
    "public_updates_channel_id": None,
    "premium_progress_bar_enabled": False,
    "nsfw": False,
    "nsfw_level": 0,
    "emojis": [],
    "stickers": [],
    "incidents_data": None,
}
CHANNEL_BODY: dict[str, Any] = {
    "id": CHANNEL_ID,
    "type": 0,
    "flags": 0,
    "guild_id": GUILD_ID,
    "name": "general",
    "position": 0,
    "parent_id": None,
    "topic": None,
    "nsfw": False,
    "last_message_id": None,
    "rate_limit_per_user": 0,
    "permission_overwrites": [],
}
DM_CHANNEL_BODY: dict[str, Any] = {
    "id": "1100000000000000006",
    "type": 1,
    "flags": 0,
    "last_message_id": None,
    "recipients": [USER_BODY],
}
MEMBER_BODY: dict[str, Any] = {
    "user": USER_BODY,
    "nick": None,
    "avatar": None,
    "banner": None,
    "roles": [],
    "joined_at": NOW,
    "premium_since": None,
    "deaf": False,
    "mute": False,
    "flags": 0,
    "pending": False,
    "communication_disabled_until": None,
}
MESSAGE_BODY: dict[str, Any] = {
    "id": "1100000000000000007",
    "channel_id": CHANNEL_ID,
    "type": 0,
    "content": "hello from the sandbox",
    "author": USER_BODY,
    "mentions": [],
    "mention_roles": [],
    "mention_everyone": False,
    "attachments": [],
    "embeds": [],
    "components": [],
    "timestamp": NOW,
    "edited_timestamp": None,
    "flags": 0,
    "pinned": False,
    "tts": False,
    "nonce": "agent-7:42",
}
ERROR_BODY: dict[str, Any] = {"message": "Unknown Channel", "code": 10003}
RATE_LIMITED_BODY: dict[str, Any] = {
    "message": "You are being rate limited.",
    "retry_after": 1.5,
    "global": False,
}

GOOD = [
    pytest.param("GET", ME, 200, ME_BODY, id="users/@me"),
    pytest.param("GET", USER, 200, USER_BODY, id="users/{id}"),
    pytest.param("GET", APP, 200, APP_BODY, id="oauth2/applications/@me"),
    pytest.param("GET", GATEWAY_BOT, 200, GATEWAY_BOT_BODY, id="gateway/bot"),
    pytest.param("GET", GUILD, 200, GUILD_BODY, id="guild"),
    pytest.param("GET", ROLES, 200, [ROLE_BODY], id="roles"),
    pytest.param("GET", MEMBER, 200, MEMBER_BODY, id="member"),
    pytest.param("GET", CHANNEL, 200, CHANNEL_BODY, id="guild-channel"),
    pytest.param("GET", CHANNEL, 200, DM_CHANNEL_BODY, id="dm-channel"),
    pytest.param("POST", MESSAGES, 200, MESSAGE_BODY, id="create-message"),
    pytest.param("GET", MESSAGES, 200, [MESSAGE_BODY, MESSAGE_BODY], id="message-history"),
    pytest.param("PATCH", MESSAGE, 200, {**MESSAGE_BODY, "edited_timestamp": NOW}, id="edit"),
    pytest.param("DELETE", MESSAGE, 204, None, id="delete-204"),
    pytest.param("GET", CHANNEL, 404, ERROR_BODY, id="404"),
    pytest.param("POST", MESSAGES, 403, {"message": "Missing Access", "code": 50001}, id="403"),
    pytest.param("POST", MESSAGES, 429, RATE_LIMITED_BODY, id="429"),
    pytest.param("POST", MESSAGES, 429, {**RATE_LIMITED_BODY, "code": 0}, id="429-with-code"),
    pytest.param(
        "POST", MESSAGES, 500, {"message": "500: Internal Server Error", "code": 0}, id="5xx"
    ),
]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The spec, parsed once; these tests skip where the sibling checkout is absent."""
    try:
        return load_spec()
    except SpecMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def validator(spec: dict[str, Any]) -> SpecValidator:
    """One validator for the module, as the session fixture will hold one for the suite."""
    return SpecValidator(spec, ignore_prefixes=("/_sandbox/",))


def failure(validator: SpecValidator, method: str, route: str, status: int, body: object) -> str:
    """The AssertionError message validate() raises for this response."""
    with pytest.raises(AssertionError) as info:
        validator.validate(method, route, status, body)
    return str(info.value)


# loading


def test_spec_path_is_the_sibling_shared_checkout() -> None:
    """SPEC_PATH is <repo>/../shared/discord-api-spec/openapi.json, found from this file."""
    repo = Path(__file__).resolve().parents[3]
    assert (repo / "pyproject.toml").is_file()
    assert repo.parent / "shared" / "discord-api-spec" / "openapi.json" == SPEC_PATH


def test_missing_spec_raises_a_clear_error(tmp_path: Path) -> None:
    """A missing file raises SpecMissingError (a FileNotFoundError) that says what it is."""
    with pytest.raises(SpecMissingError, match=r"test-time input.*discord-api-spec") as info:
        load_spec(tmp_path / "openapi.json")
    assert isinstance(info.value, FileNotFoundError)


def test_only_openapi_3_1_is_accepted(tmp_path: Path) -> None:
    """A document of another OpenAPI version is refused rather than misread."""
    (tmp_path / "openapi.json").write_text(json.dumps({"openapi": "3.0.3", "paths": {}}))
    with pytest.raises(ValueError, match=r"3\.0\.3"):
        load_spec(tmp_path / "openapi.json")


def test_the_callers_document_is_not_modified(spec: dict[str, Any]) -> None:
    """The validator's enum rewrite and docs overrides work on its own copy."""
    before = copy.deepcopy(spec["components"]["schemas"]["MessageType"])
    rate_limited = copy.deepcopy(spec["components"]["schemas"]["RatelimitedResponse"])
    SpecValidator(spec)
    assert spec["components"]["schemas"]["MessageType"] == before
    assert spec["components"]["schemas"]["RatelimitedResponse"] == rate_limited


def test_every_docs_override_still_applies(spec: dict[str, Any]) -> None:
    """Each override still finds what it replaces; an inert one should be deleted."""
    for override in DOCS_OVERRIDES:
        node: Any = spec
        for token in override.pointer.split("/")[1:]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        assert node == override.expected, override.pointer


def tiny_spec(schema: object) -> dict[str, Any]:
    """A one-operation OpenAPI document: GET /things/{id} answers 200 with ``schema``."""
    response = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    return {
        "openapi": "3.1.0",
        "paths": {"/things/{id}": {"get": {"responses": {"200": response}}}},
    }


def test_enumerations_keep_their_meaning() -> None:
    """oneOf over distinct consts checks as enum; equal consts (1 and 1.0) stay a oneOf."""
    enum = SpecValidator(tiny_spec({"oneOf": [{"const": 1, "title": "A"}, {"const": 2}]}))
    enum.validate("GET", f"{API}/things/1", 200, 2)
    with pytest.raises(AssertionError, match=r"at /: 3 is not one of \[1, 2\] \[rule enum"):
        enum.validate("GET", f"{API}/things/1", 200, 3)
    clash = SpecValidator(tiny_spec({"oneOf": [{"const": 1}, {"const": 1.0}]}))
    with pytest.raises(AssertionError, match=r"rule oneOf"):
        clash.validate("GET", f"{API}/things/1", 200, 1)


def test_only_local_refs_are_accepted() -> None:
    """A $ref out of the document is refused when the validator is built."""
    with pytest.raises(ValueError, match="only local"):
        SpecValidator(tiny_spec({"$ref": "https://example.com/schema.json"}))


# bodies that pass


@pytest.mark.parametrize(("method", "route", "status", "body"), GOOD)
def test_discord_shaped_bodies_pass(
    validator: SpecValidator, method: str, route: str, status: int, body: object
) -> None:
    """Bodies shaped like Discord's own validate against their operation's schema."""
    validator.validate(method, route, status, body)


# bodies that fail, and what the message says


REQUIRED_CASES = [
    pytest.param("GET", ME, ME_BODY, "UserPIIResponse", id="user-pii"),
    pytest.param("GET", USER, USER_BODY, "UserResponse", id="user"),
    pytest.param("GET", APP, APP_BODY, "PrivateApplicationResponse", id="application"),
    pytest.param("GET", GATEWAY_BOT, GATEWAY_BOT_BODY, "GatewayBotResponse", id="gateway-bot"),
    pytest.param("GET", GUILD, GUILD_BODY, "GuildWithCountsResponse", id="guild"),
    pytest.param("GET", MEMBER, MEMBER_BODY, "GuildMemberResponse", id="member"),
    pytest.param("GET", CHANNEL, CHANNEL_BODY, "GuildChannelResponse", id="guild-channel"),
    pytest.param("POST", MESSAGES, MESSAGE_BODY, "MessageResponse", id="message"),
]


@pytest.mark.parametrize(("method", "route", "body", "schema"), REQUIRED_CASES)
def test_each_missing_required_field_fails_by_name(
    spec: dict[str, Any],
    validator: SpecValidator,
    method: str,
    route: str,
    body: dict[str, Any],
    schema: str,
) -> None:
    """Dropping any field the spec requires fails, and the message names that field."""
    required = spec["components"]["schemas"][schema]["required"]
    assert set(required) <= set(body)
    for field in required:
        body_without = {k: v for k, v in body.items() if k != field}
        message = failure(validator, method, route, 200, body_without)
        assert f"'{field}'" in message, (field, message)


def test_a_wrong_type_names_the_pointer_and_the_rule(validator: SpecValidator) -> None:
    """A message whose content is a number fails at /content under the type rule."""
    message = failure(validator, "POST", MESSAGES, 200, {**MESSAGE_BODY, "content": 42})
    assert message.startswith(f"POST {MESSAGES} -> 200: body does not match")
    assert "schema MessageResponse" in message
    assert "at /content: 42 is not of type 'string'" in message
    assert "[rule type at properties/content/type]" in message


def test_a_nested_missing_field_points_into_the_body(validator: SpecValidator) -> None:
    """A message author without public_flags fails at /author, naming public_flags."""
    author = {k: v for k, v in USER_BODY.items() if k != "public_flags"}
    message = failure(validator, "POST", MESSAGES, 200, {**MESSAGE_BODY, "author": author})
    assert "at /author: 'public_flags' is a required property [rule required" in message


def test_snowflakes_are_strings(validator: SpecValidator) -> None:
    """An integer id fails: the spec's snowflakes are decimal strings."""
    message = failure(validator, "GET", USER, 200, {**USER_BODY, "id": int(BOT_ID)})
    assert "at /id:" in message
    assert "is not of type 'string'" in message


def test_a_required_nullable_field_must_be_present_as_null(validator: SpecValidator) -> None:
    """global_name may be null but not absent; a null avatar passes, a number does not."""
    validator.validate("GET", USER, 200, {**USER_BODY, "avatar": None})
    message = failure(validator, "GET", USER, 200, {**USER_BODY, "avatar": 7})
    assert "at /avatar: 7 is not of type 'string', 'null'" in message


def test_an_unknown_enum_value_fails(validator: SpecValidator) -> None:
    """Message type 13 is not a MessageType; the failure lists the allowed values."""
    message = failure(validator, "POST", MESSAGES, 200, {**MESSAGE_BODY, "type": 13})
    assert "at /type: 13 is not one of [0, 1," in message


def test_a_failed_one_of_shows_its_closest_alternative(validator: SpecValidator) -> None:
    """A guild channel without id fails naming id, through the guild-channel alternative."""
    body = {k: v for k, v in CHANNEL_BODY.items() if k != "id"}
    message = failure(validator, "GET", CHANNEL, 200, body)
    assert "schema GuildChannelResponse | PrivateChannelResponse |" in message
    assert (
        "at /: 'id' is a required property [rule required at oneOf/0/required] "
        "(closest of 4 oneOf alternatives: GuildChannelResponse)"
    ) in message
    message = failure(validator, "GET", CHANNEL, 200, {**CHANNEL_BODY, "type": 99})
    assert "at /type: 99 is not one of [0, 2, 4, 5, 13, 14, 15]" in message


def test_null_or_object_picks_the_object(validator: SpecValidator) -> None:
    """An incomplete primary_guild is judged as the object it tries to be, not as null."""
    body = {**USER_BODY, "primary_guild": {"identity_guild_id": None, "tag": None, "badge": None}}
    message = failure(validator, "GET", USER, 200, body)
    assert "at /primary_guild: 'identity_enabled' is a required property" in message
    assert "(closest of 2 oneOf alternatives: UserPrimaryGuildResponse)" in message
    message = failure(validator, "GET", USER, 200, {**USER_BODY, "primary_guild": 5})
    assert "at /primary_guild: 5 is not valid under any of the given schemas" in message


def test_timestamps_are_rfc3339(validator: SpecValidator) -> None:
    """A timestamp that is not an RFC 3339 date-time fails the date-time format."""
    message = failure(validator, "POST", MESSAGES, 200, {**MESSAGE_BODY, "timestamp": "yesterday"})
    assert "at /timestamp: 'yesterday' is not a 'date-time' [rule format" in message
    message = failure(
        validator, "GET", MEMBER, 200, {**MEMBER_BODY, "joined_at": "2026-05-01 12:00:00"}
    )
    assert "at /joined_at:" in message


def test_uris_need_a_scheme(validator: SpecValidator) -> None:
    """gateway/bot's url must be a URI: a bare host fails."""
    message = failure(validator, "GET", GATEWAY_BOT, 200, {**GATEWAY_BOT_BODY, "url": "localhost"})
    assert "at /url: 'localhost' is not a 'uri'" in message


def test_int32_fields_are_range_checked(validator: SpecValidator) -> None:
    """An int32 field beyond 2**31 - 1 fails the int32 format."""
    message = failure(validator, "GET", USER, 200, {**USER_BODY, "public_flags": 2**31})
    assert "at /public_flags:" in message
    assert "'int32'" in message


def test_format_checks_can_be_turned_off(spec: dict[str, Any]) -> None:
    """With check_formats=False only the structure is held to the spec."""
    lenient = SpecValidator(spec, check_formats=False)
    lenient.validate("POST", MESSAGES, 200, {**MESSAGE_BODY, "timestamp": "yesterday"})


def test_an_error_body_needs_code_and_message(validator: SpecValidator) -> None:
    """A 4xx body without its error code fails naming code."""
    message = failure(validator, "GET", CHANNEL, 404, {"message": "Unknown Channel"})
    assert "schema ErrorResponse" in message
    assert "at /: 'code' is a required property" in message


def test_a_429_body_needs_retry_after_and_global(validator: SpecValidator) -> None:
    """A 429 body without retry_after fails naming it (code is optional, as the docs say)."""
    body = {"message": "You are being rate limited.", "global": False}
    message = failure(validator, "POST", MESSAGES, 429, body)
    assert "schema RatelimitedResponse" in message
    assert "'retry_after' is a required property" in message


def test_a_server_error_is_held_to_the_generic_error(validator: SpecValidator) -> None:
    """The spec documents no 5xx, so a JSON 5xx body must be Discord's generic error object."""
    message = failure(validator, "GET", ME, 502, {"error": "bad gateway"})
    assert "schema ErrorResponse (undocumented 5xx)" in message


def test_a_204_carries_no_body(validator: SpecValidator) -> None:
    """Where the spec documents 204 without content, any body fails."""
    validator.validate("DELETE", MESSAGE, 204, None)
    message = failure(validator, "DELETE", MESSAGE, 204, {"id": "1"})
    assert "documents no body for 204" in message


def test_an_undocumented_status_fails(validator: SpecValidator) -> None:
    """DELETE message answers 204; a 200 with the deleted message is not what Discord sends."""
    message = failure(validator, "DELETE", MESSAGE, 200, MESSAGE_BODY)
    assert "documents no 200 for DELETE /channels/{channel_id}/messages/{message_id}" in message


def test_a_message_names_the_concrete_path_when_given(validator: SpecValidator) -> None:
    """validate(path=...) shows the request as it was made."""
    with pytest.raises(AssertionError, match=r"^GET /api/v10/users/42 -> 200: "):
        validator.validate("GET", USER, 200, {}, path="/api/v10/users/42")


# routes


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        pytest.param(ME, "/users/@me", id="literal-beats-param"),
        pytest.param(USER, "/users/{user_id}", id="param-template"),
        pytest.param(f"{API}/users/80351110224678912", "/users/{user_id}", id="concrete-path"),
        pytest.param(f"{API}/users/{{id:\\d+}}", "/users/{user_id}", id="aiohttp-regex"),
        pytest.param(
            f"{API}/channels/{{cid}}/messages", "/channels/{channel_id}/messages", id="renamed"
        ),
        pytest.param(
            f"{API}/channels/1/messages/bulk-delete",
            "/channels/{channel_id}/messages/bulk-delete",
            id="literal-beats-param-deeper",
        ),
        pytest.param(
            f"{API}/channels/1/messages/2/reactions/%F0%9F%91%8D/@me",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
            id="reaction-@me",
        ),
        pytest.param(f"{API}/gateway/bot/", "/gateway/bot", id="trailing-slash"),
        pytest.param("/users/@me", None, id="no-api-prefix"),
        pytest.param(f"{API}/nowhere/{{x}}", None, id="unknown"),
        pytest.param(f"{API}/users", None, id="too-short"),
    ],
)
def test_routes_map_to_spec_paths(validator: SpecValidator, route: str, expected: str) -> None:
    """Routes match by segment, any parameter name, literal segments first, /api/v10 stripped."""
    assert validator.spec_path(route) == expected


def test_the_most_specific_path_must_have_the_method(validator: SpecValidator) -> None:
    """GET thread-members/@me does not fall back to thread-members/{user_id}."""
    route = f"{API}/channels/{{channel_id}}/thread-members/@me"
    message = failure(validator, "GET", route, 200, {})
    assert "no GET on /channels/{channel_id}/thread-members/@me (documented: DELETE, PUT)" in (
        message
    )


def test_an_unknown_route_fails(validator: SpecValidator) -> None:
    """A route the spec does not know fails, saying so."""
    message = failure(validator, "GET", f"{API}/nowhere", 200, {})
    assert (
        message
        == f"GET {API}/nowhere -> 200: the Discord API spec has no path matching {API}/nowhere"
    )


def test_ignored_prefixes_are_not_checked(validator: SpecValidator) -> None:
    """The sandbox's own control API (under an ignored prefix) is outside the spec check."""
    assert validator.is_ignored("/_sandbox/faults")
    validator.validate("POST", "/_sandbox/faults", 200, {"anything": "goes"})


# the recorder


def test_the_recorder_counts_and_collects(validator: SpecValidator) -> None:
    """on_response counts checked and ignored responses and keeps failures for assert_clean."""
    recorder = ResponseRecorder(validator)
    recorder.on_response("GET", ME, "/api/v10/users/@me", 200, ME_BODY)
    recorder("POST", MESSAGES, f"{API}/channels/{CHANNEL_ID}/messages", 200, MESSAGE_BODY)
    recorder.on_response("GET", "/_sandbox/state", "/_sandbox/state", 200, {"x": 1})
    assert (recorder.checked, recorder.ignored, recorder.failures) == (2, 1, [])
    recorder.assert_clean()

    for _ in range(3):
        recorder.on_response("GET", ME, "/api/v10/users/@me", 200, USER_BODY)
    assert recorder.checked == 5
    assert len(recorder.failures) == 3
    with pytest.raises(AssertionError) as info:
        recorder.assert_clean()
    text = str(info.value)
    assert text.startswith("3 of 5 sandbox responses do not match the Discord API spec:\n")
    assert "[3x] GET /api/v10/users/@me -> 200: body does not match" in text
    assert "'mfa_enabled' is a required property" in text


def test_the_recorder_never_raises_into_the_sandbox(validator: SpecValidator) -> None:
    """Even a checker error is recorded as a failure instead of escaping the hook."""
    recorder = ResponseRecorder(validator)
    recorder.on_response("GET", ME, "/api/v10/users/@me", "200", ME_BODY)  # type: ignore[arg-type]
    assert recorder.checked == 1
    assert "checking raised TypeError" in recorder.failures[0]


def test_the_recorder_falls_back_to_the_path(validator: SpecValidator) -> None:
    """A response without a route template (no route matched) is checked by its path."""
    recorder = ResponseRecorder(validator)
    recorder.on_response("GET", "", f"{API}/users/@me", 200, ME_BODY)
    recorder.on_response("GET", "", f"{API}/nowhere", 200, ERROR_BODY)
    assert recorder.checked == 2
    assert recorder.failures == [
        f"GET {API}/nowhere -> 200: the Discord API spec has no path matching {API}/nowhere"
    ]


def test_a_missing_route_answers_with_the_error_object(validator: SpecValidator) -> None:
    """No route took it: a 404/405 must be Discord's error object, whatever the path."""
    recorder = ResponseRecorder(validator)
    route_less = {"message": "404: Not Found", "code": 0}
    recorder.on_response("GET", "", f"{API}/nowhere", 404, route_less)
    recorder.on_response("PUT", "", f"{API}/channels/{CHANNEL_ID}", 405, route_less)
    assert (recorder.checked, recorder.failures) == (2, [])
    recorder.on_response("GET", "", f"{API}/nowhere", 404, {"message": "404: Not Found"})
    assert len(recorder.failures) == 1
    assert recorder.failures[0].startswith(f"GET {API}/nowhere -> 404: body does not match")
    assert "'code' is a required property" in recorder.failures[0]


def test_field_errors_carry_string_codes(validator: SpecValidator) -> None:
    """A 50035 errors tree has string codes in its _errors lists, as Discord's docs show."""
    body = {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {
            "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Too long."}]},
            "embeds": {
                "0": {"title": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "x"}]}}
            },
        },
    }
    validator.validate("POST", MESSAGES, 400, body)
    body["errors"] = {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dicts."}]}
    validator.validate("POST", MESSAGES, 400, body)


def test_thousands_of_bodies_validate(validator: SpecValidator) -> None:
    """2000 mixed responses validate through the caches (a smoke test; no timing asserted)."""
    recorder = ResponseRecorder(validator)
    responses = [
        ("POST", MESSAGES, 200, MESSAGE_BODY),
        ("GET", ME, 200, ME_BODY),
        ("GET", CHANNEL, 200, CHANNEL_BODY),
        ("GET", CHANNEL, 404, ERROR_BODY),
        ("POST", MESSAGES, 429, RATE_LIMITED_BODY),
    ]
    for i in range(2000):
        method, route, status, body = responses[i % len(responses)]
        recorder.on_response(method, route, route, status, body)
    assert recorder.checked == 2000
    recorder.assert_clean()
