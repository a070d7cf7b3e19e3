%% Test application for the WASI adapter: waits for a message nobody sends.
-module(deadlock_app).
-export([start/0]).

start() ->
    receive
        never_sent -> ok
    end.
