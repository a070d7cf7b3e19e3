%% Test application for the WASI adapter: echoes stdin back through
%% wasi:respond/1 and writes to both log channels on the way.
-module(echo_app).
-export([start/0]).

start() ->
    Request = wasi:read_stdin(),
    wasi = atomvm:platform(),
    ok = wasi:write_stdout([<<"stdout log ">>, integer_to_list(byte_size(Request)), $\n]),
    ok = wasi:write_stderr(<<"stderr log\n">>),
    %% A first response that the second one must replace: the host keeps the last.
    ok = wasi:respond(<<"superseded">>),
    ok = wasi:respond([<<"{\"echo\":">>, Request, $}]).
