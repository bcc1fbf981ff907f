"""FakeStash: an in-memory Stash that executes the real SDL over real HTTP.

Typical use::

    with FakeStash() as stash:
        tag = stash.add_tag("Outdoor")
        sid = stash.add_scene("Beach", tag_ids=[tag])
        run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid})
        assert stash.schema_violations == []

Everything a client sends is recorded in ``stash.requests``; a request that a
real Stash would reject before executing (GraphQL syntax, validation against
the SDL, variable coercion, unknown operation) also lands in
``stash.schema_violations``.  Exceptions raised by the stand-in itself (a bug
here, not in the plugin) land in ``stash.internal_errors``.
"""
from __future__ import annotations

import contextlib
import copy
import secrets
import shutil
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer

from graphql import GraphQLError, execute, parse, validate
from graphql.language import OperationDefinitionNode

from .filters import StashError, Unsupported
from .resolvers import default_resolver, executable_schema
from .schema import REPO_ROOT
from .seed import StashData
from .web import StashRequestHandler

SESSION_MAX_AGE = 3600       # config max_session_age default
MAX_HOOK_DEPTH = 10          # pkg/plugin maxCyclicLoopDepth


@dataclass
class RequestContext:
    """Per-request data resolvers need: base URL from the Host header, session cookie."""
    stash: FakeStash
    base_url: str
    cookie: str | None = None
    visited: list = field(default_factory=list)

    def unlocked(self):
        return self.stash.unlocked()

    def fire_hook(self, hook_type: str, obj_id, hook_input, input_fields) -> None:
        self.stash.fire_hook(hook_type, obj_id, hook_input, input_fields, self.visited)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class AbortRequest(Exception):
    """Raised by an ``on_mutation`` callback: the request is dropped before Stash executes it."""


class FakeStash(StashData):
    """In-memory Stash + GraphQL (real SDL) + HTTP server on 127.0.0.1:<random port>."""

    def __init__(self, *, require_auth: bool = False, api_key: str | None = None,
                 static_dir: str | None = None, host: str = "127.0.0.1",
                 connection_host: str = "0.0.0.0", data_dir: str | None = None,
                 schema_dir: str | None = None, version: str = "v0.30.1"):
        super().__init__(api_key=api_key, data_dir=data_dir)
        self.require_auth = require_auth
        self.static_dir = static_dir
        self.host = host
        self.connection_host = connection_host
        self.schema = executable_schema(str(schema_dir) if schema_dir else None)
        self.version_info = {"version": version, "hash": "b23b0267",
                             "build_time": "2025-12-18 00:00:00"}
        # recordings
        self.requests: list[dict] = []
        self.schema_violations: list[dict] = []
        self.internal_errors: list[dict] = []
        self.http_log: list[tuple[str, str, int]] = []
        self.hook_events: list[dict] = []
        self.operations: list[dict] = []
        # pluggable behaviour
        self.on_run_plugin_task: Callable[[dict, str | None], None] | None = None
        self.on_run_plugin_operation: Callable[[dict, str | None], object] | None = None
        self.on_hook: Callable[[dict, list], None] | None = None
        # called for every mutation request with ("before" | "after", record): a kill sweep stops
        # the plugin there (raising AbortRequest before = the request never reached Stash)
        self.on_mutation: Callable[[str, dict], None] | None = None
        # auth: every minted cookie -> the (plugin_id, hook_type) pairs it has visited
        self.session_cookie_value = secrets.token_urlsafe(32)
        self._cookies: dict[str, list] = {self.session_cookie_value: []}
        self._faults: list[list] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeStash:
        self._httpd = _Server((self.host, 0), StashRequestHandler)
        self._httpd.stash = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="FakeStash",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (clients then get 'connection refused'); data is kept."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def close(self) -> None:
        """stop() and delete the temporary data dir (generated files, config dir)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> FakeStash:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"

    @contextlib.contextmanager
    def unlocked(self):
        """Release the request lock while a plugin runs: it calls back into this server."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    # ------------------------------------------------------------ auth / plugin input
    def mint_cookie(self, visited=()) -> str:
        value = secrets.token_urlsafe(32)
        self._cookies[value] = list(visited)
        return value

    def is_valid_cookie(self, value: str | None) -> bool:
        return value is not None and value in self._cookies

    def visited_hooks(self, cookie: str | None) -> list:
        """(plugin_id, hook_type) pairs carried by a session cookie (hook loop detection)."""
        return list(self._cookies.get(cookie, []))

    def server_connection(self, plugin_dir: str | None = None, visited=(),
                          cookie_value: str | None = None) -> dict:
        """The exact ``server_connection`` object Stash writes to a plugin's stdin
        (Go field names; Host is the bind address, "0.0.0.0" by default)."""
        value = cookie_value or (self.mint_cookie(visited) if visited else self.session_cookie_value)
        expires = datetime.now(timezone.utc) + timedelta(seconds=SESSION_MAX_AGE)
        return {
            "Scheme": "http", "Host": self.connection_host, "Port": self.port,
            "SessionCookie": {
                "Name": "session", "Value": value, "Quoted": False, "Path": "/", "Domain": "",
                "Expires": expires.isoformat().replace("+00:00", "Z"), "RawExpires": "",
                "MaxAge": SESSION_MAX_AGE, "Secure": False, "HttpOnly": False, "SameSite": 2,
                "Partitioned": False, "Raw": "", "Unparsed": None,
            },
            "Dir": self.dir, "PluginDir": str(plugin_dir or REPO_ROOT),
        }

    # ------------------------------------------------------------ hooks / faults
    def fire_hook(self, hook_type: str, obj_id, hook_input, input_fields, visited) -> None:
        """Record a ``*.Post`` hook and run ``on_hook`` synchronously, like Stash does."""
        event = {"id": int(obj_id), "type": hook_type, "input": copy.deepcopy(hook_input)}
        if input_fields:
            event["inputFields"] = list(input_fields)
        self.hook_events.append(event)
        if self.on_hook is not None:
            with self.unlocked():
                self.on_hook(copy.deepcopy(event), list(visited))

    def fail_next(self, name: str, message: str, times: int = 1) -> None:
        """Make the next ``times`` root fields (or operations) called ``name`` fail with
        ``message`` as a GraphQL error, before any state changes."""
        self._faults.append([name, message, times])

    def take_fault(self, operation_name: str | None, field_name: str) -> None:
        for fault in self._faults:
            if fault[0] in (operation_name, field_name):
                fault[2] -= 1
                if fault[2] <= 0:
                    self._faults.remove(fault)
                raise StashError(fault[1])

    # ------------------------------------------------------------ execution
    def graphql(self, query: str, variables: dict | None = None,
                operation_name: str | None = None, *, cookie: str | None = None) -> dict:
        """Execute in-process (no HTTP, no auth) exactly like a POST /graphql."""
        payload = {"query": query, "variables": variables, "operationName": operation_name}
        return self.execute_request(payload, base_url=self.base_url, cookie=cookie)[1]

    def execute_request(self, payload: dict, *, base_url: str, cookie: str | None) -> tuple[int, dict]:
        """Validate + execute one GraphQL request; returns (http_status, response_json)."""
        query, op = payload.get("query"), payload.get("operationName")
        variables = payload.get("variables") or {}
        record = {"operation_name": op, "query": query, "variables": copy.deepcopy(variables),
                  "fields": [], "errors": [], "data": None}
        self.requests.append(record)
        errors, code, result = self._prepare(payload, query, record)
        is_mutation = isinstance(query, str) and query.lstrip().startswith("mutation")
        if not errors and is_mutation and self.on_mutation is not None:
            try:
                self.on_mutation("before", record)
            except AbortRequest:
                record["aborted"] = True
                return 503, {"errors": [{"message": "aborted by the test"}], "data": None}
        if not errors:
            ctx = RequestContext(self, base_url, cookie, self.visited_hooks(cookie))
            with self.lock:
                result = execute(self.schema, record.pop("_doc"), context_value=ctx,
                                 variable_values=variables, operation_name=op,
                                 field_resolver=default_resolver)
            errors = list(result.errors or [])
            if any(e.path is None for e in errors):
                code = "GRAPHQL_VALIDATION_FAILED"
        record.pop("_doc", None)
        record["errors"] = [self._format(e, code if e.path is None else None) for e in errors]
        record["data"] = copy.deepcopy(result.data) if result is not None else None
        if code:                    # gqlgen: 400 for an undecodable body, else 422
            self.schema_violations.append(record)
            return (400 if code == "BAD_REQUEST" else 422), {"errors": record["errors"], "data": None}
        self._collect_internal(errors, record)
        if is_mutation and self.on_mutation is not None:
            self.on_mutation("after", record)
        response = {"data": record["data"]}
        if errors:
            response["errors"] = record["errors"]
        return 200, response

    def _prepare(self, payload, query, record):
        """Parse + validate; returns (errors, gqlgen error code, None)."""
        if "_decode_error" in payload:
            return [GraphQLError(f"json body could not be decoded: {payload['_decode_error']}")], \
                "BAD_REQUEST", None
        if not isinstance(query, str) or not query.strip():
            return [GraphQLError("no operation provided")], "GRAPHQL_VALIDATION_FAILED", None
        try:
            doc = parse(query)
        except GraphQLError as exc:
            return [exc], "GRAPHQL_PARSE_FAILED", None
        ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = next((o for o in ops if record["operation_name"] is None
                       or (o.name and o.name.value == record["operation_name"])), None)
        if chosen is not None:
            record["operation_name"] = (record["operation_name"]
                                        or (chosen.name.value if chosen.name else None))
            record["fields"] = [s.name.value for s in chosen.selection_set.selections
                                if hasattr(s, "name")]
        errors = validate(self.schema, doc)
        if errors:
            return list(errors), "GRAPHQL_VALIDATION_FAILED", None
        record["_doc"] = doc
        return [], None, None

    @staticmethod
    def _format(err: GraphQLError, code: str | None) -> dict:
        out = err.formatted
        if code:
            out.setdefault("extensions", {})["code"] = code
        return out

    def _collect_internal(self, errors, record) -> None:
        """Errors not raised deliberately (StashError) are stand-in bugs or gaps."""
        for e in errors:
            orig = e.original_error
            if isinstance(orig, StashError) and not isinstance(orig, Unsupported):
                continue
            tb = "".join(traceback.format_exception(orig)) if orig else ""
            self.internal_errors.append({"message": e.message, "path": e.path,
                                         "operation_name": record["operation_name"],
                                         "unsupported": isinstance(orig, Unsupported),
                                         "traceback": tb})

    # ------------------------------------------------------------ helpers for tests / routes
    def calls(self, field_name: str) -> list[dict]:
        """Recorded requests whose operation selected root field ``field_name``."""
        return [r for r in self.requests if field_name in r["fields"]]

    def find_scene_for_route(self, key: str, value: str) -> dict | None:
        with self.lock:
            if key == "id":
                return self.scenes.get(value)
            return next((s for s in self.scenes.values()
                         if value in (self.scene_hash(s), s["_oshash"], s["_checksum"])), None)
