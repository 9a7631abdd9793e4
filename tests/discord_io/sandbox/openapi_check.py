"""Hold every JSON body the sandbox sends to Discord's official OpenAPI spec.

The spec (``openapi.json`` from discord/discord-api-spec, OpenAPI 3.1 for API v10) lives in
the sibling checkout ``../shared/discord-api-spec`` of the repository. It is a test-time input
only: nothing under ``src`` reads it, and this module is imported by tests alone.

Three pieces, smallest first:

- `load_spec()` finds and parses the spec. When the file is absent it raises `SpecMissingError`
  (a `FileNotFoundError`); the fixture that calls it decides whether that skips the sandbox
  tests (``pytest.skip(str(exc))``) or fails them.
- `SpecValidator` maps a sandbox route (aiohttp's template ``/api/v10/users/{user_id}`` or a
  concrete path) to the spec's path and operation, picks the response schema for the status
  (exact code, then ``4XX``, then ``default``) and validates the body with jsonschema's Draft
  2020-12 validator, ``$ref`` resolved by a `referencing` registry holding the whole document.
  `validate()` raises `AssertionError` naming the request, the status, the schema, the JSON
  pointer of the failing part and the rule it broke. Validators are compiled once per schema.
- `ResponseRecorder` is the sandbox's ``on_response`` hook: it validates, never raises into the
  sandbox, and keeps ``checked``, ``ignored`` and ``failures`` for `assert_clean()`.

Choices worth knowing:

- Route matching goes segment by segment; a parameter (``{anything}``, or aiohttp's
  ``{name:regex}``) matches any one segment, and a literal segment beats a parameter at the
  first place two candidates differ, so ``/users/@me`` wins over ``/users/{user_id}``. The most
  specific path decides: if it lacks the method, that is a failure (no fallback to a less
  specific path), as is a route the spec does not know, unless it starts with one of
  ``ignore_prefixes`` (the sandbox's own control API).
- A request the sandbox had no route for (``on_response`` gets an empty template) answered
  404 or 405 is Discord's answer to a route or method it does not have: its body is held to
  ``ErrorResponse`` (`SpecValidator.validate_unrouted`), as no operation documents it.
- A status the operation does not document fails, except server errors (5xx): the spec
  documents none, and Discord answers those with its generic error object, so a JSON 5xx body
  is held to ``ErrorResponse``. A status documented without content (204) requires no body.
- Formats: jsonschema checks none unless asked, and its ``date-time``/``uri`` checkers need
  optional packages. We check the three formats this spec relies on with the standard library:
  ``date-time`` (RFC 3339), ``uri`` (has a scheme) and ``int32`` (range). ``snowflake`` and
  ``int64`` are already pinned by ``pattern``/``minimum``/``maximum``; ``double`` and
  ``nonce`` carry no further constraint.
- Where the spec and Discord's docs disagree, the docs win (the spec's README says so): each
  such place is a `DocsOverride` in `DOCS_OVERRIDES`, with its reason. Today one: a 429 body's
  ``code`` is optional.
- Speed (thousands of bodies a session): validators are compiled once per schema, each
  ``$ref`` target is looked up once, and the spec's enumerations, written as ``oneOf`` over
  ``const`` branches, are checked as the equivalent ``enum``. A message body takes ~0.2 ms.
- A failed ``oneOf`` (channels, components, ``null`` or an object) is reported through its
  closest alternative, so the message names the missing field rather than "not valid under
  any of the given schemas".
- OpenAPI specifics: 3.1 schemas are plain 2020-12 (``type: [..., "null"]``, no ``nullable``);
  this spec uses no ``readOnly``/``writeOnly`` or ``discriminator``; an absent
  ``additionalProperties`` allows extra fields, as JSON Schema says.

Wiring, in a conftest (session-wide validator, one recorder per test)::

    @pytest.fixture(scope="session")
    def spec_validator() -> SpecValidator:
        try:
            spec = load_spec()
        except SpecMissingError as exc:  # or let it fail: the issue makes the check mandatory
            pytest.skip(str(exc))
        return SpecValidator(spec, ignore_prefixes=("/_sandbox/",))

    @pytest.fixture
    def spec_recorder(spec_validator: SpecValidator) -> Iterator[ResponseRecorder]:
        recorder = ResponseRecorder(spec_validator)
        yield recorder  # pass recorder.on_response as the sandbox app's on_response
        recorder.assert_clean()

Errors: everything this module finds wrong with a body or route is an `AssertionError` (pytest
shows its message). Otherwise it raises `SpecMissingError` when the spec is absent, and
`ValueError` for a document it cannot read (not OpenAPI 3.1, or ``$ref``s it cannot resolve).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import jsonschema
from jsonschema.exceptions import ValidationError, relevance
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    from referencing._core import Resolved

SPEC_PATH: Final = (
    Path(__file__).resolve().parents[4] / "shared" / "discord-api-spec" / "openapi.json"
)
"""Where the spec lives: ``<repo>/../shared/discord-api-spec/openapi.json``."""

SPEC_URI: Final = "urn:discord-api-spec:openapi.json"
"""The fixed URI the whole document is registered under; every ``$ref`` is based on it."""

API_PREFIX: Final = "/api/v10"
SERVER_ERROR_SCHEMA: Final = "/components/schemas/ErrorResponse"

_HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})
_PARAM: Final = None  # a parameter segment in a split template
_RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_URI_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", re.ASCII)
_INT32: Final = range(-(2**31), 2**31)
_MAX_ERRORS_SHOWN: Final = 5


class SpecMissingError(FileNotFoundError):
    """The spec file is not where the repository layout says it is."""


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """Parse Discord's OpenAPI document; raise `SpecMissingError` if the file is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecMissingError(
            f"Discord's OpenAPI spec is not at {path}: it is a test-time input from the sibling "
            "checkout ../shared/discord-api-spec (see its README); without it the sandbox's "
            "responses cannot be checked against the spec"
        ) from None
    spec: dict[str, Any] = json.loads(text)
    if not str(spec.get("openapi", "")).startswith("3.1"):
        raise ValueError(f"{path} is not an OpenAPI 3.1 document (openapi={spec.get('openapi')!r})")
    return spec


# -- formats ------------------------------------------------------------------------------------

_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if _RFC3339.fullmatch(instance) is None:
        return False
    try:
        dt.datetime.fromisoformat(instance.replace("z", "Z"))
    except ValueError:
        return False
    return True


@_FORMATS.checks("uri")
def _is_uri(instance: object) -> bool:
    return not isinstance(instance, str) or _URI_SCHEME.fullmatch(instance) is not None


@_FORMATS.checks("int32")
def _is_int32(instance: object) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return True
    return not float(instance).is_integer() or int(instance) in _INT32


# -- the document --------------------------------------------------------------------------------

_ANNOTATIONS: Final = frozenset({"title", "description"})


def _prepared_copy(node: Any) -> Any:
    """Copy the document, checking its ``$ref``s and turning its enumerations into ``enum``.

    Every ``$ref`` must be local (``#/...``) and no ``$id``/``$anchor``/``$dynamicRef`` may
    appear: `SpecValidator._ref_keyword` relies on it.

    The spec spells its 91 enumerations (MessageType, ChannelTypes, locales, ...) as ``oneOf``
    over titled ``const`` branches. With distinct constants that is exactly ``enum``, which
    jsonschema checks in one step instead of one sub-validation per branch (a message body
    validates 3x faster). Only branches holding nothing but ``const`` and annotations qualify.
    """
    if isinstance(node, list):
        return [_prepared_copy(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "#/")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, not {ref!r}")
    if isinstance(node.get("$id"), str) or "$dynamicRef" in node or "$anchor" in node:
        raise ValueError("the spec now uses $id/$anchor/$dynamicRef; revisit _ref_keyword")
    copied = {key: _prepared_copy(value) for key, value in node.items()}
    branches = node.get("oneOf")
    if (
        isinstance(branches, list)
        and branches
        and "enum" not in node
        and all(
            isinstance(b, dict) and "const" in b and b.keys() - {"const"} <= _ANNOTATIONS
            for b in branches
        )
    ):
        values = [b["const"] for b in branches]
        if len({_const_key(v) for v in values}) == len(values):
            del copied["oneOf"]
            copied["enum"] = values
    return copied


@attrs.frozen
class DocsOverride:
    """A place where the spec and Discord's docs (../shared/discord-api-docs) disagree.

    The spec README says the docs win. ``replacement`` goes in at ``pointer`` (a JSON pointer
    into the document) only while the spec still holds ``expected`` there, so an upstream fix
    makes the override inert instead of wrong.
    """

    pointer: str
    expected: object
    replacement: object
    reason: str


DOCS_OVERRIDES: Final = (
    DocsOverride(
        pointer="/components/schemas/RatelimitedResponse/allOf/0",
        expected={"$ref": "#/components/schemas/Error"},
        replacement={
            "type": "object",
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            "required": ["message"],
        },
        reason="topics/rate-limits.mdx, Rate Limit Response Structure: `code?` is optional "
        "(message, retry_after and global are required)",
    ),
    DocsOverride(
        pointer="/components/schemas/InnerErrors/properties/_errors/items",
        expected={"$ref": "#/components/schemas/Error"},
        replacement={
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        },
        reason="topics/opcodes-and-status-codes.mdx, JSON Error Codes, points to Reference, "
        "Error Messages, whose examples give each field error in an `_errors` list a string "
        'code (`{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}`); the '
        "spec reuses the top-level Error object, whose code is an integer",
    ),
)
"""Every deliberate departure from the spec, each with the docs' reason."""


def _apply_docs_overrides(document: dict[str, Any]) -> None:
    for override in DOCS_OVERRIDES:
        *parents, last = (
            token.replace("~1", "/").replace("~0", "~") for token in override.pointer.split("/")[1:]
        )
        try:
            node: Any = document
            for token in parents:
                node = node[int(token) if isinstance(node, list) else token]
            key: Any = int(last) if isinstance(node, list) else last
            if node[key] == override.expected:
                node[key] = copy.deepcopy(override.replacement)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # the spec changed shape there, so the override no longer applies


def _const_key(value: object) -> object:
    """JSON Schema equality as a hashable key: 1 == 1.0, but True is not 1."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ("number", float(value))
    return ("json", json.dumps(value, sort_keys=True))


# -- routes -------------------------------------------------------------------------------------


def _split(template: str) -> tuple[str | None, ...]:
    """Split a path or template into segments; any ``{...}`` segment becomes `_PARAM`."""
    return tuple(
        _PARAM if seg.startswith("{") and seg.endswith("}") else seg
        for seg in template.strip("/").split("/")
    )


def _pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _json_pointer(parts: Iterable[object]) -> str:
    return "".join(f"/{_pointer_escape(str(part))}" for part in parts)


@attrs.frozen
class _Plan:
    """What a (route, method, status) must send: no body, or a body matching one schema."""

    spec_path: str
    schema_pointer: str | None  # None: the spec documents no body for this status
    schema_name: str


class SpecValidator:
    """Validates sandbox responses against Discord's OpenAPI document. Build once per session."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        api_prefix: str = API_PREFIX,
        ignore_prefixes: Iterable[str] = (),
        check_formats: bool = True,
    ) -> None:
        self._spec = spec
        self._api_prefix = api_prefix.rstrip("/")
        self._ignore_prefixes = tuple(ignore_prefixes)
        self._format_checker = _FORMATS if check_formats else None
        document = _prepared_copy(spec)
        _apply_docs_overrides(document)
        resource = DRAFT202012.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource).crawl()
        self._resolver = self._registry.resolver(SPEC_URI)
        self._resolved: dict[str, Resolved[Any]] = {}
        self._validator_class = jsonschema.validators.extend(
            jsonschema.Draft202012Validator, validators={"$ref": self._ref_keyword}
        )
        self._paths: list[tuple[tuple[str | None, ...], str]] = [
            (_split(path), path) for path in spec["paths"]
        ]
        self._route_cache: dict[str, str | None] = {}
        self._plan_cache: dict[tuple[str, str, int], _Plan] = {}
        self._validators: dict[str, Validator] = {}

    # routes

    def is_ignored(self, route: str) -> bool:
        """Whether the route is outside the check (one of ``ignore_prefixes``)."""
        return route.startswith(self._ignore_prefixes) if self._ignore_prefixes else False

    def spec_path(self, route: str) -> str | None:
        """The spec path a sandbox route or concrete path falls under, or None if none does."""
        try:
            return self._route_cache[route]
        except KeyError:
            pass
        found = self._match(route)
        self._route_cache[route] = found
        return found

    def _match(self, route: str) -> str | None:
        if route != self._api_prefix and not route.startswith(self._api_prefix + "/"):
            return None
        wanted = _split(route[len(self._api_prefix) :])
        best: tuple[tuple[int, ...], str] | None = None
        for segments, path in self._paths:
            if len(segments) != len(wanted):
                continue
            rank: list[int] = []
            for have, want in zip(segments, wanted, strict=True):
                if have is _PARAM:
                    rank.append(1)
                elif have == want:
                    rank.append(0)
                else:
                    break
            else:
                key = (tuple(rank), path)
                if best is None or key < best:
                    best = key
        return None if best is None else best[1]

    # schemas

    def _plan(self, method: str, route: str, status: int) -> _Plan:
        key = (method, route, status)
        try:
            return self._plan_cache[key]
        except KeyError:
            pass
        plan = self._make_plan(method, route, status)
        self._plan_cache[key] = plan
        return plan

    def _make_plan(self, method: str, route: str, status: int) -> _Plan:
        spec_path = self.spec_path(route)
        if spec_path is None:
            raise AssertionError(f"the Discord API spec has no path matching {route}")
        item = self._spec["paths"][spec_path]
        op_name = method.lower()
        if op_name not in item:
            documented = sorted(m.upper() for m in item if m in _HTTP_METHODS)
            raise AssertionError(
                f"the Discord API spec has no {method.upper()} on {spec_path} "
                f"(documented: {', '.join(documented)})"
            )
        responses: Mapping[str, Any] = item[op_name].get("responses", {})
        pointer = _json_pointer(["paths", spec_path, op_name, "responses"])
        for code in (str(status), f"{status // 100}XX", "default"):
            if code in responses:
                pointer, response = self._deref(f"{pointer}/{code}", responses[code])
                break
        else:
            if status >= 500:
                return _Plan(spec_path, SERVER_ERROR_SCHEMA, "ErrorResponse (undocumented 5xx)")
            raise AssertionError(
                f"the Discord API spec documents no {status} for {method.upper()} {spec_path} "
                f"(documented: {', '.join(responses)})"
            )
        content: Mapping[str, Any] = response.get("content", {})
        if not content:
            return _Plan(spec_path, None, "no body")
        if "application/json" not in content:
            raise AssertionError(
                f"the Discord API spec answers {method.upper()} {spec_path} {status} with "
                f"{', '.join(content)}, not JSON"
            )
        schema_pointer = f"{pointer}/content/application~1json/schema"
        return _Plan(spec_path, schema_pointer, _schema_name(content["application/json"]["schema"]))

    def _deref(self, pointer: str, obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """Follow a response object's ``$ref`` chain within the document."""
        while "$ref" in obj:
            ref: str = obj["$ref"]
            if not ref.startswith("#/"):
                raise AssertionError(f"unsupported $ref {ref!r} at {pointer}")
            pointer = ref[1:]
            obj = self._resolver.lookup(ref).contents
        return pointer, obj

    def _ref_keyword(
        self, validator: Any, ref: str, instance: object, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        """``$ref`` as Draft 2020-12 defines it, each target looked up once and remembered.

        Sound because the document has no ``$id``: every ``$ref`` is ``#/...`` relative to
        `SPEC_URI` (checked when the document is copied), so a reference means the same schema
        wherever it appears. This is a third of the time a message body takes otherwise.
        """
        try:
            resolved = self._resolved[ref]
        except KeyError:
            resolved = self._resolved[ref] = self._resolver.lookup(ref)
        yield from validator.descend(instance, resolved.contents, resolver=resolved.resolver)

    def _validator(self, schema_pointer: str) -> Validator:
        try:
            return self._validators[schema_pointer]
        except KeyError:
            pass
        validator = self._validator_class(
            {"$ref": f"{SPEC_URI}#{schema_pointer}"},
            registry=self._registry,
            format_checker=self._format_checker,
        )
        self._validators[schema_pointer] = validator
        return validator

    # the check

    def validate_unrouted(self, method: str, path: str, status: int, body: object) -> None:
        """Raise AssertionError unless ``body`` is Discord's error object for a missing route.

        For a request no sandbox route took: 404 (no such path) or 405 (no such method) with
        ``{"message": "404: Not Found", "code": 0}``-shaped bodies, held to ``ErrorResponse``.
        """
        if self.is_ignored(path):
            return
        request = f"{method.upper()} {path} -> {status}"
        if status not in (404, 405):
            raise AssertionError(
                f"{request}: no route took the request, so only 404 or 405 may answer it"
            )
        plan = _Plan("(no route)", SERVER_ERROR_SCHEMA, "ErrorResponse (no such route)")
        errors = list(self._validator(SERVER_ERROR_SCHEMA).iter_errors(body))
        if errors:
            raise AssertionError(_describe(request, plan, errors))

    def validate(
        self, method: str, route: str, status: int, body: object, *, path: str | None = None
    ) -> None:
        """Raise AssertionError unless ``body`` is what the spec says this response carries.

        ``route`` is the sandbox's route template (or a concrete path); ``path``, if given, is
        the concrete request path, shown in messages. Ignored routes pass unchecked.
        """
        if self.is_ignored(route):
            return
        request = f"{method.upper()} {path or route} -> {status}"
        try:
            plan = self._plan(method, route, status)
        except AssertionError as exc:
            raise AssertionError(f"{request}: {exc}") from None
        if plan.schema_pointer is None:
            if body not in (None, b"", ""):
                raise AssertionError(
                    f"{request}: the spec documents no body for {status} on "
                    f"{method.upper()} {plan.spec_path}, but one was sent: {_excerpt(body)}"
                )
            return
        validator = self._validator(plan.schema_pointer)
        errors = list(validator.iter_errors(body))
        if errors:
            raise AssertionError(_describe(request, plan, errors))


def _schema_name(schema: object) -> str:
    """A short name for a response schema: ``MessageResponse``, ``array of GuildRoleResponse``."""
    if not isinstance(schema, Mapping):
        return "inline schema"
    ref = schema.get("$ref", "")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return ref.rpartition("/")[2]
    if "items" in schema:
        return f"array of {_schema_name(schema['items'])}"
    for keyword in ("oneOf", "anyOf"):
        if isinstance(schema.get(keyword), list):
            return " | ".join(_schema_name(branch) for branch in schema[keyword])
    return "inline schema"


def _excerpt(value: object, limit: int = 200) -> str:
    """A string as it is, anything else as its repr, cut to ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(request: str, plan: _Plan, errors: list[ValidationError]) -> str:
    """One line for the request, then one per error, most relevant first.

    Each error line gives the JSON pointer into the body, jsonschema's message and the rule
    (keyword and schema path). A failed ``oneOf``/``anyOf`` is shown through its closest
    alternative, so a channel missing ``id`` says that rather than "not valid under any".
    """
    leaves = [
        leaf for error in sorted(errors, key=relevance, reverse=True) for leaf in _closest(error)
    ]
    lines = [
        f"{request}: body does not match the Discord API spec "
        f"({plan.spec_path}, schema {plan.schema_name})"
    ]
    for error, via in leaves[:_MAX_ERRORS_SHOWN]:
        where = _json_pointer(error.absolute_path) or "/"
        rule_at = "/".join(str(part) for part in error.absolute_schema_path)
        lines.append(
            f"  at {where}: {_excerpt(error.message)} [rule {error.validator!s} at {rule_at}]{via}"
        )
    if len(leaves) > _MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {len(leaves) - _MAX_ERRORS_SHOWN} more")
    return "\n".join(lines)


def _closest(error: ValidationError, via: str = "") -> list[tuple[ValidationError, str]]:
    """The error itself, or for a failed oneOf/anyOf the errors of its nearest alternative.

    Nearest: not rejected outright for its type (``oneOf: [null, User]`` given an object picks
    User), then fewest errors, then first listed.
    """
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [(error, via)]
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)

    def distance(item: tuple[int, list[ValidationError]]) -> tuple[bool, int, int]:
        index, subs = item
        wrong_kind = any(sub.validator == "type" and not sub.relative_path for sub in subs)
        return (wrong_kind, len(subs), index)

    index, subs = min(by_branch.items(), key=distance)
    if distance((index, subs))[0]:  # every alternative wants another type: say so plainly
        return [(error, via)]
    branches: list[Any] = error.validator_value  # type: ignore[assignment]
    name = _schema_name(branches[index])
    if name == "inline schema":
        name = f"#{index}"
    note = f" (closest of {len(branches)} {error.validator} alternatives: {name})"
    return [
        leaf for sub in sorted(subs, key=relevance, reverse=True) for leaf in _closest(sub, note)
    ]


# -- the sandbox hook ---------------------------------------------------------------------------


@attrs.define
class ResponseRecorder:
    """The sandbox's ``on_response`` hook: validate each JSON response, keep the verdicts.

    It never raises into the sandbox (a hook error would turn into a 500 that discord.py
    retries); failures wait for `assert_clean()`. Safe to feed from the sandbox's thread.
    """

    validator: SpecValidator
    checked: int = attrs.field(default=0, init=False)
    ignored: int = attrs.field(default=0, init=False)
    failures: list[str] = attrs.field(factory=list, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def on_response(
        self, method: str, route_template: str, path: str, status: int, body: object
    ) -> None:
        """Validate one response; matches the sandbox's ``on_response`` signature."""
        route = route_template or path  # a request no route matched has no template
        if self.validator.is_ignored(route):
            with self._lock:
                self.ignored += 1
            return
        try:
            if not route_template and status in (404, 405):
                self.validator.validate_unrouted(method, path, status, body)
            else:
                self.validator.validate(method, route, status, body, path=path)
        except AssertionError as exc:
            failure = str(exc)
        except Exception as exc:  # the edge: a checker bug must fail the test, not the sandbox
            failure = f"{method} {path} -> {status}: checking raised {exc!r}"
        else:
            failure = None
        with self._lock:
            self.checked += 1
            if failure is not None:
                self.failures.append(failure)

    __call__ = on_response

    def assert_clean(self) -> None:
        """Raise AssertionError listing each distinct failure (with its count), if any."""
        with self._lock:
            failures = list(self.failures)
            checked = self.checked
        if not failures:
            return
        counts = Counter(failures)
        shown = [f"[{n}x] {failure}" if n > 1 else failure for failure, n in counts.most_common(10)]
        if len(counts) > 10:
            shown.append(f"... and {len(counts) - 10} more distinct failures")
        raise AssertionError(
            f"{len(failures)} of {checked} sandbox responses do not match the Discord API "
            "spec:\n" + "\n".join(shown)
        )
