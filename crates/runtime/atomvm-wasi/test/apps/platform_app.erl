%% Test application for the WASI adapter: timers, the platform atom, random
%% bytes and local time. Answers with one `key=value` line per check.
-module(platform_app).
-export([start/0]).

start() ->
    T0 = erlang:monotonic_time(millisecond),
    Self = self(),
    %% Another process wakes us from a timer; then we sleep ourselves. With no
    %% other work pending the adapter jumps the clock instead of waiting.
    spawn(fun() -> receive after 300 -> Self ! woke end end),
    receive woke -> ok after 60000 -> exit(timer_never_fired) end,
    receive after 200 -> ok end,
    Slept = erlang:monotonic_time(millisecond) - T0,
    A = crypto:strong_rand_bytes(32),
    B = atomvm:rand_bytes(32),
    {{Year, _, _}, _} = erlang:localtime(),
    wasi:respond([
        "slept_ms=", integer_to_list(Slept), "\n",
        "rand_sizes=", integer_to_list(byte_size(A)), ",", integer_to_list(byte_size(B)), "\n",
        "rand_distinct=", atom_to_list(A =/= B), "\n",
        "platform=", atom_to_list(atomvm:platform()), "\n",
        "year_ok=", atom_to_list(Year >= 2024), "\n"
    ]).
