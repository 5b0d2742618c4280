"""Options of a ``rest`` system and its streams (SPEC 4)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ByteSize, Field, SecretStr

from connectors.base import (
    ConfigModel,
    Deprecated,
    Duration,
    HttpUrl,
    Mode,
    Problem,
    StreamOptions,
    StringList,
    SystemOptions,
    TargetProblem,
    WholeNumber,
    old_dotted_form,
    parse_path,
)
from connectors.rest.paths import placeholders, template_problem


def _body_path(value: str) -> str:
    """A path into a JSON body that parses (empty: the body itself); :class:`PathSyntaxError` says how to
    write it (pydantic reports its message at the value's place)."""
    if value.strip():
        parse_path(value)
    return value


BodyPath = Annotated[str, AfterValidator(_body_path)]
"""A path into a JSON body, written as a mapping's source path: ``data.items``, ``results[0].id``."""


def old_form_problems(**paths: str | None) -> Iterator[Problem]:
    """A warning for each path (by its key) that names a list item the old way, ``results.0.id``."""
    for key, path in paths.items():
        written = old_dotted_form(path) if path else None
        if written is not None:
            message = f"'{path}' names a list item the old way, a number after a dot (deprecated): write {written}"
            yield Deprecated((key,), message)


# --- auth -----------------------------------------------------------------


def _credential_problems(key: str, value: SecretStr, what: str) -> Iterator[Problem]:
    """A problem at ``key`` when the credential ``value`` (``what`` it is, in words) is empty or only whitespace.

    The usual cause is a ``${VAR}`` set to nothing: every request would then go out with nothing to show,
    each refused (or, worse, let in as anonymous), and ``brygga validate`` would have said nothing. The
    message never says what the value is. A basic auth password may be empty: some APIs take the key as
    the username alone.
    """
    text = value.get_secret_value()
    if not text:
        yield Problem((key,), f"the {what} is empty (a ${{VAR}} set to nothing gives that): set it to {_GIVEN}")
    elif not text.strip():
        yield Problem((key,), f"the {what} is only whitespace: set it to {_GIVEN}")


_GIVEN = "the one the system gave you"


class BearerAuth(ConfigModel):
    """``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: SecretStr

    def own_problems(self) -> Iterator[Problem]:
        return _credential_problems("token", self.token, "token")


class BasicAuth(ConfigModel):
    """HTTP basic auth."""

    type: Literal["basic"]
    username: str
    password: SecretStr

    def own_problems(self) -> Iterator[Problem]:
        if ":" in self.username:  # RFC 7617: the server splits the pair at the first colon
            yield Problem(
                ("username",),
                "a basic auth username cannot hold ':' (the server would read the part before it as the "
                "username, the rest as part of the password): check the username the system gave you",
            )


class HeaderAuth(ConfigModel):
    """An API key in a header of your choice."""

    type: Literal["header"]
    name: str = Field(description="The header, such as X-Api-Key.")
    value: SecretStr

    def own_problems(self) -> Iterator[Problem]:
        return _credential_problems("value", self.value, "API key")


class QueryAuth(ConfigModel):
    """An API key in a query parameter."""

    type: Literal["query"]
    name: str = Field(description="The parameter, such as api_key.")
    value: SecretStr

    def own_problems(self) -> Iterator[Problem]:
        return _credential_problems("value", self.value, "API key")


class OAuth2Auth(ConfigModel):
    """OAuth2 client credentials: a token fetched once, reused, and refreshed before it expires."""

    type: Literal["oauth2"]
    token_url: HttpUrl
    client_id: str
    client_secret: SecretStr
    scopes: StringList = Field(default_factory=list)
    audience: str | None = None

    def own_problems(self) -> Iterator[Problem]:
        return _credential_problems("client_secret", self.client_secret, "client secret")


Auth = Annotated[BearerAuth | BasicAuth | HeaderAuth | QueryAuth | OAuth2Auth, Field(discriminator="type")]

# --- pagination -----------------------------------------------------------


class LinkHeaderPagination(ConfigModel):
    """Follow ``Link: <…>; rel="next"`` headers."""

    type: Literal["link_header"]


class PagePagination(ConfigModel):
    """``?page=1``, ``?page=2``… until a page comes back empty or short."""

    type: Literal["page"]
    param: str = "page"
    start: WholeNumber = 1
    size_param: str | None = None
    size: WholeNumber | None = Field(None, ge=1)


class OffsetPagination(ConfigModel):
    """``?offset=0&limit=100``, ``?offset=100&limit=100``…"""

    type: Literal["offset"]
    param: str = "offset"
    limit_param: str = "limit"
    limit: WholeNumber = Field(100, ge=1)


class CursorPagination(ConfigModel):
    """A token from the body (``path``) sent back as ``param`` for the next page."""

    type: Literal["cursor"]
    param: str = "cursor"
    path: BodyPath = Field(description="Where the next page's token is in the body, such as meta.next_cursor.")

    def own_problems(self) -> Iterator[Problem]:
        return old_form_problems(path=self.path)


class NextUrlPagination(ConfigModel):
    """A full URL of the next page in the body."""

    type: Literal["next_url"]
    path: BodyPath = Field(description="Where the next page's URL is in the body, such as links.next.")

    def own_problems(self) -> Iterator[Problem]:
        return old_form_problems(path=self.path)


Pagination = Annotated[
    LinkHeaderPagination | PagePagination | OffsetPagination | CursorPagination | NextUrlPagination,
    Field(discriminator="type"),
]

# --- streams --------------------------------------------------------------

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


def _scalar(value: Any) -> Any:
    """Reject lists and mappings up front: else each arm of the union below reports its own error."""
    if value is None or isinstance(value, list | dict):
        shown = "nothing (null)" if value is None else "a list" if isinstance(value, list) else "a mapping"
        raise ValueError(f"expected text, a number or true/false, got {shown}")
    return value


ParamValue = Annotated[str | int | float | bool, BeforeValidator(_scalar)]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class Endpoint(ConfigModel):
    """A request: method and path; ``{key}`` in the path is the record's key."""

    method: Annotated[Method, BeforeValidator(_upper)]
    path: str


class GetEndpoint(ConfigModel):
    """How to fetch one record by key."""

    path: str = Field(description="Such as /contacts/{key}.")


class WriteEndpoints(ConfigModel):
    """The requests that create, update and delete records."""

    create: Endpoint | None = None
    update: Endpoint | None = None
    delete: Endpoint | None = None


class Incremental(ConfigModel):
    """Ask only for records changed since the stored cursor."""

    cursor: str = Field(description="The record field that grows on every change, such as updated_at.")
    param: str = Field(description="The query parameter that takes it, such as updated_since.")


class Total(ConfigModel):
    """Where the API states its record count, to check that nothing was dropped."""

    header: str | None = None
    path: BodyPath | None = None

    def own_problems(self) -> Iterator[Problem]:
        if (self.header is None) == (self.path is None):
            yield Problem((), "give exactly one of header and path")
        yield from old_form_problems(path=self.path)


class Match(ConfigModel):
    """Find an existing target record by a mapped field before creating one."""

    param: str = Field(description="The query parameter to search with, such as email.")
    field: str = Field(description="The mapped field whose value is searched for.")


class RestStream(StreamOptions):
    """A collection of records behind one path."""

    path: str = Field(description="Such as /contacts.")
    records: BodyPath | None = Field(
        None, description="Path to the list in the body, such as data.items; default the body itself."
    )
    params: dict[str, ParamValue] = Field(default_factory=dict)
    pagination: Pagination | None = None
    incremental: Incremental | None = None
    get: GetEndpoint | None = None
    write: WriteEndpoints | None = None
    total: Total | None = None
    match: Match | None = None
    max_pages: WholeNumber = Field(
        10_000, ge=1, description="The most pages one read may take; more fails the read instead of going on."
    )

    def own_problems(self) -> Iterator[Problem]:
        if self.match is not None and (self.write is None or self.write.create is None):
            yield Problem(("match",), "match is used before a create: add write.create")
        yield from self.path_problems()
        yield from old_form_problems(records=self.records)

    def path_problems(self) -> Iterator[Problem]:
        """Request paths whose ``{…}`` the connector could not fill from a record's key (see
        :func:`~connectors.rest.paths.fill_key`): ``{key}`` for a one-field key, ``{FIELD}`` for each key
        field. Checked when the config is loaded, so ``brygga validate`` says it, not the first run."""
        key = tuple(self.key)
        if placeholders(self.path):
            yield Problem(("path",), f"the stream's `path` '{self.path}' cannot have {{…}}: it lists every record")
        if self.get is not None and (problem := template_problem(self.get.path, key)) is not None:
            yield Problem(("get", "path"), problem)
        if self.write is None:
            return
        if self.write.create is not None and placeholders(self.write.create.path):
            message = f"`write.create` '{self.write.create.path}' cannot have {{…}}: a new record has no key"
            yield Problem(("write", "create", "path"), message)
        for verb, endpoint in (("update", self.write.update), ("delete", self.write.delete)):
            if endpoint is not None and (problem := template_problem(endpoint.path, key)) is not None:
                yield Problem(("write", verb, "path"), problem)

    def target_problems(self, mode: Mode) -> Iterator[TargetProblem]:
        if self.write is None:
            yield TargetProblem("the stream has no write block: add write: {create: …, update: …} to it")
            return
        needed = {
            "create": mode in ("upsert", "insert", "mirror"),
            "update": mode in ("upsert", "update", "mirror"),
            "delete": mode == "mirror",
        }
        for verb, is_needed in needed.items():
            if is_needed and getattr(self.write, verb) is None:
                yield TargetProblem(
                    f"{mode} {verb}s records, but the target stream has no write.{verb}: add one", about_mode=True
                )

    def fetch_problem(self) -> str | None:
        if self.get is None:
            return "the stream has no get, so no record can be fetched by key: add get: {path: …/{key}} to it"
        return None

    def field_problems(self, fields: Collection[str]) -> Iterator[TargetProblem]:
        if self.match is not None and self.match.field not in fields:
            yield TargetProblem(
                f"the stream's match.field '{self.match.field}' is not a field this sync writes, so no existing"
                f" record would ever be found and each create could duplicate one: map {self.match.field}"
                " under fields, or match on a field the sync writes"
            )


class RateLimit(ConfigModel):
    """One request budget for the whole system, shared by every sync."""

    requests: WholeNumber = Field(ge=1)
    per: Duration = Field(timedelta(seconds=1), gt=timedelta(0))
    """``0s`` is refused: it gave back each request's share at once, no limit at all, without a word."""


class RestSystem(SystemOptions):
    """A JSON HTTP API."""

    base_url: HttpUrl = Field(description="Such as https://crm.example.com/api.")
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = Field(
        timedelta(seconds=30), gt=timedelta(0), description="The longest one whole request may take, answer included."
    )
    rate_limit: RateLimit | None = None
    concurrency: WholeNumber = Field(4, ge=1, le=256, description="Requests in flight at once.")
    max_answer: ByteSize = Field(
        ByteSize(256 * 1024 * 1024), gt=0, description="The largest answer taken, once decompressed, e.g. 256MiB."
    )
    streams: dict[str, RestStream]  # type: ignore[assignment]
