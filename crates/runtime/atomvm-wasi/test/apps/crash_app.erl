%% Test application for the WASI adapter: logs, then crashes in start/0.
-module(crash_app).
-export([start/0]).

start() ->
    ok = wasi:write_stdout(<<"before the crash\n">>),
    erlang:error({deliberate_crash, wasi:read_stdin()}).
