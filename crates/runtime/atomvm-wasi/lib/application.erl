%% application -- OTP's `application' module as a worker sees it.
%%
%% A worker runs no application controller: no OTP application is loaded or
%% started in it, and its configuration comes from the request's env
%% (ElixirWorkers.Conn.env/3), not from .app files. Every query answers what
%% OTP answers for an application that is not loaded: no environment, no
%% keys, no owning application. AtomVM's own `application' (which this
%% replaces; settings.rs lists it in ESTDLIB_EXCLUDED) has only get_env/2,3,
%% so Elixir code that formats a stack trace (Exception.format_stacktrace/1
%% asks which application a module belongs to) or reads
%% Application.get_all_env/1 failed with `undef' here.
-module(application).

-export([
    get_env/2,
    get_env/3,
    get_all_env/0,
    get_all_env/1,
    get_key/1,
    get_key/2,
    get_all_key/0,
    get_all_key/1,
    get_application/0,
    get_application/1,
    loaded_applications/0,
    which_applications/0,
    which_applications/1
]).

-export_type([start_type/0]).

-type start_type() :: normal | {takeover, Node :: node()} | {failover, Node :: node()}.

-spec get_env(atom(), atom()) -> undefined.
get_env(_Application, _Parameter) -> undefined.

-spec get_env(atom(), atom(), Default) -> Default.
get_env(_Application, _Parameter, Default) -> Default.

-spec get_all_env() -> [].
get_all_env() -> [].

-spec get_all_env(atom()) -> [].
get_all_env(_Application) -> [].

-spec get_key(atom()) -> undefined.
get_key(_Key) -> undefined.

-spec get_key(atom(), atom()) -> undefined.
get_key(_Application, _Key) -> undefined.

-spec get_all_key() -> undefined.
get_all_key() -> undefined.

-spec get_all_key(atom()) -> undefined.
get_all_key(_Application) -> undefined.

-spec get_application() -> undefined.
get_application() -> undefined.

-spec get_application(pid() | module()) -> undefined.
get_application(_PidOrModule) -> undefined.

-spec loaded_applications() -> [].
loaded_applications() -> [].

-spec which_applications() -> [].
which_applications() -> [].

-spec which_applications(timeout()) -> [].
which_applications(_Timeout) -> [].
