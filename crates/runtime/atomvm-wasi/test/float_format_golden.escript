#!/usr/bin/env escript
%% -*- erlang -*-
%%
%% elixir-workers: golden cases for src/float_format.c, from the real BEAM.
%% SPDX-License-Identifier: Apache-2.0
%%
%% Writes one line per case: the double's bit pattern (16 hex digits), the
%% option spec, and float_to_list/2's text or "badarg", separated by spaces:
%%
%%   short            [short]
%%   default          [] (checked equal to float_to_list/1 and {scientific,20})
%%   sci:N            [{scientific, N}]        sci:N:compact  ... plus compact
%%   dec:N            [{decimals, N}]          dec:N:compact  ... plus compact
%%
%% Every case also checks that float_to_binary/2 agrees with float_to_list/2.
%% The random parts use a fixed seed, so the output is the same on every run
%% with the same OTP (the committed float_format_golden.txt is OTP 25's):
%%
%%   escript float_format_golden.escript float_format_golden.txt
%%   escript float_format_golden.escript /tmp/big.txt 200000 7   (more cases)
%%
%% The optional arguments are the number of random bit patterns (default
%% 1000) and the seed (default 1).

main([Out]) -> main([Out, "1000", "1"]);
main([Out, Count]) -> main([Out, Count, "1"]);
main([Out, Count, Seed]) ->
    rand:seed(exsss, {list_to_integer(Seed), 4242, 2025}),
    Cases = cases(list_to_integer(Count)),
    {ok, File} = file:open(Out, [write, raw, binary, delayed_write]),
    ok = file:write(File, header()),
    lists:foreach(fun({F, Spec}) -> ok = file:write(File, line(F, Spec)) end, Cases),
    ok = file:close(File),
    io:format("~s: ~b cases (OTP ~s)~n", [Out, length(Cases), erlang:system_info(otp_release)]);
main(_) ->
    io:format(standard_error, "usage: float_format_golden.escript OUT [COUNT [SEED]]~n", []),
    halt(2).

header() ->
    io_lib:format("# float_to_list/2 of Erlang/OTP ~s; made by float_format_golden.escript\n"
                  "# bits spec text-or-badarg\n", [erlang:system_info(otp_release)]).

%% Every value gets `short`; the special and boundary values also get a
%% spread of fixed options, the random ones one or two random options, the
%% powers of ten and two a random option one time in three.
cases(Count) ->
    Fixed = special() ++ near_integers() ++ decimal_ties(),
    Powers = powers_of_ten() ++ powers_of_two(),
    Random = random_bits(Count) ++ random_decimals(Count div 3) ++ random_uniform(Count div 3),
    FixedSpecs = [default, {sci, 0}, {sci, 3}, {sci, 17}, {sci, 249}, {sci, -1},
                  {dec, 0}, {dec, 0, compact}, {dec, 2}, {dec, 2, compact},
                  {dec, 18}, {dec, 19, compact}, {dec, 253}],
    [{F, S} || F <- Fixed, S <- [short | FixedSpecs]]
        ++ [{F, S} || F <- Powers, S <- [short | maybe_spec()]]
        ++ [{F, S} || F <- Random, S <- [short, random_spec() | maybe_spec()]].

maybe_spec() ->
    case rand:uniform(3) of
        1 -> [random_spec()];
        _ -> []
    end.

random_spec() ->
    R = rand:uniform(100),
    if
        R =< 10 -> default;
        R =< 45 -> compact_or_not({sci, spec_digits(249)});
        true -> compact_or_not({dec, spec_digits(253)})
    end.

%% Mostly small counts; some around OTP's fast/printf boundary (18/19), some
%% near the limits, a few negative.
spec_digits(Max) ->
    R = rand:uniform(100),
    if
        R =< 55 -> rand:uniform(21) - 1;
        R =< 75 -> 15 + rand:uniform(7);
        R =< 88 -> 21 + rand:uniform(40);
        R =< 96 -> Max - 5 + rand:uniform(7);
        true -> -rand:uniform(10)
    end.

compact_or_not(Spec) ->
    case rand:uniform(4) of
        1 -> erlang:append_element(Spec, compact);
        _ -> Spec
    end.

special() ->
    [0.0, -0.0, 1.0, -1.0, 7.0, 0.1, -0.1, 0.2, 0.3, 0.30000000000000004, 1.0e-4,
     1.0e-5, 123.456, 1.0e15, 1.0e16, 1.0e20, 1.0e21, 1.0e22, 1.0e23,
     1.2345678901234567e17, 5.0e-324, -5.0e-324, 1.0e-323,
     2.225073858507201e-308, 2.2250738585072014e-308, 1.7976931348623157e308,
     -1.7976931348623157e308, 2.5e-7, 100.0, 1234567.0, 12345678901234567890.0,
     0.5, 1.5, 2.5, 0.125, 0.375, 2.675, 1.005, 0.05, 0.15, 0.25, 0.35,
     0.9999999, 9.9999, 0.999999999999, 1/3, 2/3, math:pi(), math:exp(1),
     1.0e100, 1.0e200, 1.0e250, 1.0e251, 1.0e252, 1.0e255, 1.0e256, 1.0e300,
     -1.0e-300, 4.35e-321, 9007199254741000.0, 1.5e20, 123.0, 105.0,
     1.0e-10, 3.0e-10, 6.02214076e23, 1.602176634e-19, 299792458.0,
     0.1 + 0.2, 1.1, 2.2, 3.3, 1.0e-7, 9.5, 99.5, 999.5, 0.995, 0.045].

near_integers() ->
    [float(B + D) || B <- [1 bsl 51, 1 bsl 52, 1 bsl 53, 1 bsl 54, 1 bsl 63, 1 bsl 64],
                     D <- [-3, -2, -1, 0, 1, 2, 3]]
        ++ [(1 bsl 51) + 0.5, (1 bsl 51) - 0.5, (1 bsl 51) + 1.5, (1 bsl 52) - 0.5,
            (1 bsl 50) + 0.25, (1 bsl 50) + 0.75, -((1 bsl 51) + 0.5)].

%% x.5-like values whose fast-path rounding differs from printf's.
decimal_ties() ->
    [list_to_float(S) || S <- ["0.0625", "0.1875", "1.03125", "12.5", "13.5",
                               "0.000244140625", "4503599627370495.5",
                               "1.0000000000000002", "0.49999999999999994"]].

powers_of_ten() ->
    [list_to_float("1.0e" ++ integer_to_list(K)) || K <- lists:seq(-323, 308)].

powers_of_two() ->
    [from_bits(1 bsl (E + 1074)) || E <- lists:seq(-1074, -1023)]
        ++ [from_bits((E + 1023) bsl 52) || E <- lists:seq(-1022, 1023)].

%% Finite doubles from uniform random 64-bit patterns.
random_bits(0) -> [];
random_bits(N) ->
    Bits = rand:uniform(1 bsl 64) - 1,
    case (Bits bsr 52) band 16#7ff of
        16#7ff -> random_bits(N);
        _ -> [from_bits(Bits) | random_bits(N - 1)]
    end.

%% Short decimal texts (like prices), positive and negative.
random_decimals(N) ->
    [begin
         Text = integer_to_list(rand:uniform(100000) - 1) ++ "."
             ++ integer_to_list(rand:uniform(1000) - 1)
             ++ "e" ++ integer_to_list(rand:uniform(25) - 15),
         sign() * list_to_float(Text)
     end || _ <- lists:seq(1, N)].

%% Doubles spread over a few magnitudes, where the fast path applies.
random_uniform(N) ->
    [sign() * rand:uniform() * math:pow(10, rand:uniform(20) - 6) || _ <- lists:seq(1, N)].

sign() ->
    case rand:uniform(2) of
        1 -> 1;
        2 -> -1
    end.

from_bits(Bits) ->
    <<F/float>> = <<Bits:64>>,
    F.

line(F, Spec) ->
    <<Bits:64>> = <<F/float>>,
    Text = text(F, Spec),
    io_lib:format("~16.16.0b ~s ~s\n", [Bits, spec_name(Spec), Text]).

spec_name(short) -> "short";
spec_name(default) -> "default";
spec_name({sci, N}) -> io_lib:format("sci:~b", [N]);
spec_name({sci, N, compact}) -> io_lib:format("sci:~b:compact", [N]);
spec_name({dec, N}) -> io_lib:format("dec:~b", [N]);
spec_name({dec, N, compact}) -> io_lib:format("dec:~b:compact", [N]).

options(short) -> [short];
options(default) -> [];
options({sci, N}) -> [{scientific, N}];
options({sci, N, compact}) -> [{scientific, N}, compact];
options({dec, N}) -> [{decimals, N}];
options({dec, N, compact}) -> [{decimals, N}, compact].

%% OTP's text, after checking float_to_binary/2 (and, for `default`,
%% float_to_list/1 and {scientific, 20}) say the same.
text(F, Spec) ->
    Options = options(Spec),
    List = call(fun() -> float_to_list(F, Options) end),
    Binary = call(fun() -> binary_to_list(float_to_binary(F, Options)) end),
    List == Binary orelse error({binary_differs, F, Spec, List, Binary}),
    Spec == default andalso begin
        float_to_list(F) == List orelse error({arity_1_differs, F}),
        float_to_list(F, [{scientific, 20}]) == List orelse error({sci20_differs, F})
    end,
    List.

call(Fun) ->
    try Fun()
    catch error:badarg -> "badarg"
    end.
