#!/usr/bin/env escript
%% -*- erlang -*-
%% Run: escript crates/runtime/atomvm-wasi/lib/test/re_diff.escript   (from the repo root; needs erl, elixir optional)
%%
%% Differential test of lib/re.erl (the `re' replacement for AtomVM) against
%% OTP's own `re' (PCRE) on this machine.  A copy of re.erl is compiled as
%% module ew_re_under_test in a temporary directory (the real name is sticky
%% on the BEAM), then thousands of calls are made to both and compared:
%%   * run/2,3 over a pattern x subject x option matrix, targeted option
%%     cases (offsets, capture specs, newline conventions, notbol/noteol,
%%     notempty..., charlist subjects, precompiled patterns);
%%   * Unicode property / case-folding sweeps;
%%   * compile/2 outcomes (errors must agree; curated messages exactly);
%%   * replace/3,4 and split/2,3;
%%   * seeded random patterns;
%%   * if Elixir is installed: Elixir's Regex and String are recompiled from
%%     their debug info with every `re' call redirected to ew_re_under_test
%%     (Regex.version/0 then differs from the ~r literals' re_version, so
%%     this follows exactly the source-recompile path taken on AtomVM), and
%%     all Regex/String doctests that use regexes plus extra Elixir
%%     expressions are evaluated with both and compared.
%% Prints the pass/fail count; exits 1 on any mismatch.
-mode(compile).

main(_) ->
    Script = escript:script_name(),
    Src = filename:join(filename:dirname(filename:absname(Script)), "../re.erl"),
    load_under_test(Src),
    put(pass, 0),
    put(fail, 0),
    put(known, 0),
    Only = os:getenv("RE_DIFF_ONLY"),
    [section(Name, Fun) || {Name, Fun} <- [{"run matrix", fun run_matrix/0},
                                           {"run targeted", fun run_targeted/0},
                                           {"unicode sweeps", fun unicode_sweeps/0},
                                           {"compile", fun compile_cases/0},
                                           {"replace/split", fun replace_split_cases/0},
                                           {"random patterns", fun random_cases/0},
                                           {"elixir", fun elixir_cases/0}],
                           Only =:= false orelse Only =:= Name],
    P = get(pass),
    F = get(fail),
    io:format("re_diff: ~b passed, ~b failed (~b documented known differences)~n",
              [P, F, get(known)]),
    halt(case F of 0 -> 0; _ -> 1 end).

section(Name, Fun) ->
    {P0, F0} = {get(pass), get(fail)},
    T0 = erlang:monotonic_time(millisecond),
    put(shown, 0),
    Fun(),
    io:format("re_diff: ~-16s ~6b passed ~4b failed (~b ms)~n",
              [Name, get(pass) - P0, get(fail) - F0, erlang:monotonic_time(millisecond) - T0]).

load_under_test(Src) ->
    {ok, Bin} = file:read_file(Src),
    Bin2 = binary:replace(Bin, <<"-module(re).">>, <<"-module(ew_re_under_test).">>),
    Dir = filename:join(tmp_dir(), "ew_re_diff_" ++ integer_to_list(erlang:unique_integer([positive]))
                        ++ "_" ++ os:getpid()),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    File = filename:join(Dir, "ew_re_under_test.erl"),
    ok = file:write_file(File, Bin2),
    case compile:file(File, [binary, return_errors, {outdir, Dir}]) of
        {ok, Mod, Beam} ->
            {module, Mod} = code:load_binary(Mod, File, Beam),
            file:delete(File),
            file:del_dir(Dir);
        Err ->
            io:format("re_diff: cannot compile ~s: ~p~n", [Src, Err]),
            halt(2)
    end.

tmp_dir() ->
    case os:getenv("TMPDIR") of
        false -> "/tmp";
        D -> D
    end.

%% ------------------------------------------------------------------
%% comparison helpers

check(Label, Expected, Got) ->
    case Expected =:= Got of
        true -> put(pass, get(pass) + 1);
        false ->
            put(fail, get(fail) + 1),
            put(shown, get(shown) + 1),
            case get(shown) =< 12 of
                true -> io:format("MISMATCH ~ts~n  otp: ~p~n  ew:  ~p~n", [Label, Expected, Got]);
                false -> ok
            end
    end.

outcome(F) ->
    try F() of
        V -> {ok, V}
    catch
        error:R -> {error, R};
        throw:R -> {throw, R}
    end.

cmp_run(S, P, O) ->
    A = outcome(fun() -> re:run(S, P, O) end),
    B = outcome(fun() -> ew_re_under_test:run(S, P, O) end),
    case A =/= B andalso lists:member({S, P, O}, known_differences()) of
        true ->
            put(known, get(known) + 1),
            io:format("KNOWN DIFFERENCE re:run(~p, ~p, ~p)~n  otp: ~p~n  ew:  ~p~n", [S, P, O, A, B]);
        false -> check(io_lib:format("re:run(~p, ~p, ~p)", [S, P, O]), A, B)
    end.

%% Documented deviations (see the header of re.erl): in global mode, after
%% an empty match of a pattern starting with or containing certain
%% lookarounds, OTP sometimes skips the non-empty retry at the same offset.
known_differences() ->
    [{<<"ab\nba\n">>, <<"a*?(?!(?=(?>[ab]){1,2}|(?<=ab))^.)">>, [multiline, global]},
     {<<"AbCaBc">>, <<"(?<=b|c)c*?">>, [caseless, global]}].

%% ------------------------------------------------------------------
%% pattern x subject x options

patterns() ->
    [<<"abc">>, <<"a.c">>, <<"a.*c">>, <<"a.*?c">>, <<"^abc$">>, <<"x*">>, <<"a|b|c">>,
     <<"(a|ab)(c|bcd)(d*)">>, <<"[a-z]+">>, <<"[^a-z]+">>, <<"[]a]">>, <<"[^]a]+">>,
     <<"[a-]+">>, <<"[-a]+">>, <<"[a\\-z]+">>, <<"\\d+">>, <<"\\D+">>, <<"\\w+">>, <<"\\W+">>,
     <<"\\s+">>, <<"\\S+">>, <<"\\h+">>, <<"\\v+">>, <<"\\bfoo\\b">>, <<"\\Bo\\B">>, <<"\\b">>,
     <<"\\B">>, <<"(\\w+)\\s(\\w+)">>, <<"(?<first>\\w+)\\s(?<last>\\w+)">>,
     <<"(?P<y>\\d{2})(?P<m>\\d)">>, <<"(?'q'a)">>, <<"(a)?b">>, <<"(a)|(b)">>, <<"(a)|b">>,
     <<"(a)(b)?">>, <<"((a)|(b))+">>, <<"(a*)*">>, <<"(a*)+">>, <<"(a|)*b">>, <<"(a?)*?b">>,
     <<"a{2}">>, <<"a{2,3}">>, <<"a{2,}">>, <<"a{,3}">>, <<"a{2,3}?">>, <<"a++b">>, <<"a*+a">>,
     <<"(?>a*)a">>, <<"(?>a|ab)c">>, <<"(?=a)a">>, <<"(?!a).">>, <<"(?<=a)b">>, <<"(?<!a)b">>,
     <<"(?<=ab|c)d">>, <<"(?<!ab|c)\\w">>, <<"(\\w)\\1">>, <<"(?i)(\\w)\\1">>, <<"(a)\\g{-1}">>,
     <<"(?<n>.)\\k<n>">>, <<"(?P<n>.)(?P=n)">>, <<"(?i)abc">>, <<"a(?i)bc">>, <<"a(?i:b)c">>,
     <<"(?i:a|b)c">>, <<"(a(?i)b|c)">>, <<"(?m)^b">>, <<"(?m)\\w$">>, <<"(?s)a.b">>,
     <<"(?x) a b c # comment">>, <<"(?x)[ ]a">>, <<"\\Qa.b\\E+">>, <<"[\\Q]\\E]">>, <<"\\x41">>,
     <<"\\x{263a}">>, <<"\\101">>, <<"\\0">>, <<"\\n">>, <<"\\t">>, <<"\\e">>, <<"\\cA">>,
     <<"[[:alpha:]]+">>, <<"[[:^digit:]]+">>, <<"[[:punct:]]">>, <<"[[:space:]]+">>,
     <<"[[:upper:]][[:lower:]]*">>, <<"[[:xdigit:]]+">>, <<"[[:word:]]+">>, <<"[[:alnum:]]+">>,
     <<"[[:graph:]]+">>, <<"[[:print:]]+">>, <<"[[:cntrl:]]">>, <<"[[:blank:]]+">>,
     <<"\\p{L}+">>, <<"\\p{Lu}">>, <<"\\P{L}+">>, <<"\\p{N}+">>, <<"\\p{Nd}">>, <<"\\p{P}+">>,
     <<"\\p{S}+">>, <<"\\p{Z}">>, <<"\\pL">>, <<"[\\p{L}\\d]+">>, <<"\\p{^L}">>, <<"\\p{Any}">>,
     <<"\\p{L&}">>, <<"\\p{Xan}+">>, <<"\\p{Xwd}+">>, <<"\\p{Xsp}">>, <<"\\p{Ll}+">>,
     <<"\\A\\w">>, <<"\\w\\z">>, <<"\\w\\Z">>, <<"a$">>, <<"\\w$">>, <<"$">>, <<"^">>,
     <<"a\\Z">>, <<"\\Ga">>, <<"a\\Kb">>, <<"(a)?(?(1)b|c)">>, <<"(?<x>a)?(?(<x>)b|c)">>,
     <<"(?(?=a)ab|cd)">>, <<"(?(?<=a)b|c)">>, <<"\\R">>, <<"a\\Nb">>, <<"(?U)a+">>, <<"[\\d-z]+">>,
     <<".">>, <<"..">>, <<".*">>, <<".+?">>, <<"\\w+?\\b">>, <<"[^\\w\\s]">>, <<"[\\W\\d]">>,
     <<"(?:ab)+">>, <<"(ab|a)*?b">>, <<"(a|b)*c">>, <<"(?:a|b)+?c">>, <<"^(\\w+)\\s*=\\s*(.*)$">>,
     <<"(?<!\\S)\\w">>, <<"\\w+(?=\\s)">>, <<"[aeiou]">>, <<"[^aeiou\\s]+">>, <<"(?i)[a-c]+">>,
     <<"(?i)[^a-c]+">>, <<"(?i)\\x{c0}">>, <<"(?i)é">>, <<"(?i)[à-ÿ]+"/utf8>>, <<"ö"/utf8>>,
     <<"[äöü]+"/utf8>>, <<"日本"/utf8>>, <<"\\x{65e5}">>, <<"[\\x{3040}-\\x{30ff}]+">>,
     <<"(.)(.)(.)">>, <<"(?:(a)|(b)|(c))+">>, <<"(a)|(b)|(c)">>, <<"a(?#comment)b">>,
     <<"(\\d+)(?:px|em)">>, <<"\\$\\d+\\.\\d\\d">>, <<"[.]">>, <<"\\.">>, <<"a\\.b">>,
     <<"\\d{1,3}(?:,\\d{3})*">>, <<"[[:alpha:]-]+">>, <<"([a-z])\\1">>, <<"(?i)([a-z])\\1">>,
     <<"^\\s+|\\s+$">>, <<"\\s*,\\s*">>, <<"(?<=\\d)(?=(\\d{3})+$)">>, <<"x|">>, <<"|x">>,
     <<"()">>, <<"(|a)+">>, <<"(a+|b)*">>, <<"(a+|b){0,}">>, <<"(a+|b){1,}">>, <<"(a+|b){0,1}">>,
     <<"(a|b)*?">>, <<"a{0}b">>, <<"(a){0}b">>, <<"(?:a{2})*">>, <<"[^\\n]+">>, <<"\\N+">>].

subjects() ->
    [<<>>, <<"abc">>, <<"aBc ABC abc">>, <<"foo bar baz">>, <<"hello world">>, <<"aaa">>,
     <<"aab">>, <<"ab\ncd\n">>, <<"ab\r\ncd\r\n">>, <<"x1y22z333">>,
     <<"The Quick  Brown\tFox">>, <<"héllo wörld ÀÉÎ àéî"/utf8>>, <<"日本語テキスト"/utf8>>,
     <<"ΑΒΓ αβγ Σς"/utf8>>, <<"Привет мир"/utf8>>, <<"a_b-c.d">>, <<"1,2;3 4 , 5">>,
     <<"  leading and trailing  ">>, <<"abab cdcd">>, <<"aa bb aA Bb">>, <<"ba abd cd">>,
     <<"width: 10px; 2em">>, <<"$12.50 and $3.99">>, <<"1234567">>, <<"key = value">>,
     <<"\x{a0}\xc2\xa0\x85\t\v\f">>].

option_sets() ->
    [[], [global], [unicode], [unicode, global, {capture, all, binary}], [caseless, global],
     [multiline, global, {capture, all, list}], [unicode, ucp, global, {capture, all, list}],
     [dotall, unicode, caseless, {capture, all_but_first, index}]].

run_matrix() ->
    [cmp_run(S, P, O) || P <- patterns(), S <- subjects(), O <- option_sets()],
    ok.

%% ------------------------------------------------------------------
%% targeted run cases

run_targeted() ->
    Cases =
        [{<<"abc">>, <<"x*">>, [global]},
         {<<"abc">>, <<"">>, [global]},
         {<<"a\r\nb">>, <<"">>, [global, {newline, crlf}]},
         {<<"a\r\nb">>, <<"">>, [global, {newline, anycrlf}]},
         {<<"a\r\nb">>, <<"">>, [global, {newline, any}]},
         {<<"a\r\nb">>, <<"">>, [global]},
         {<<"a\r\nb\rc\nd">>, <<"^\\w">>, [global, multiline, {newline, anycrlf}]},
         {<<"a\r\nb\rc\nd">>, <<"\\w$">>, [global, multiline, {newline, anycrlf}]},
         {<<"a\r\nb\rc\nd">>, <<"\\w$">>, [global, multiline, {newline, crlf}]},
         {<<"a\r\nb\rc\nd">>, <<"\\w$">>, [global, multiline, {newline, cr}]},
         {<<"a\r\nb\rc\nd">>, <<"^.">>, [global, multiline, {newline, any}]},
         {<<"a\r\nb\rc\nd">>, <<".+">>, [global, {newline, crlf}]},
         {<<"a\r\nb\rc\nd">>, <<".+">>, [global, {newline, anycrlf}]},
         {<<"a\r\nb\rc\nd">>, <<".+">>, [global, {newline, cr}]},
         {<<"a\r\nb\x{85}c\x{0b}d">>, <<".+">>, [global, {newline, any}]},
         {<<"a\r\nb\x{85}c\x{0b}d">>, <<"\\R">>, [global]},
         {<<"a\r\nb\x{85}c\x{0b}d">>, <<"\\R">>, [global, bsr_anycrlf]},
         {<<"a\r\n">>, <<"a$">>, [{newline, crlf}]},
         {<<"a\n">>, <<"a$">>, [dollar_endonly]},
         {<<"a\n">>, <<"a$">>, []},
         {<<"a\n">>, <<"a\\Z">>, []},
         {<<"a\n">>, <<"a\\z">>, []},
         {<<"a\nb\n">>, <<"^">>, [global, multiline]},
         {<<"a\nb\n">>, <<"$">>, [global, multiline]},
         {<<"a\nb\n">>, <<"$">>, [global]},
         {<<"abc">>, <<"^a">>, [notbol]},
         {<<"abc\nabc">>, <<"^a">>, [notbol, multiline, global]},
         {<<"abc">>, <<"c$">>, [noteol]},
         {<<"abc\nabc">>, <<"c$">>, [noteol, multiline, global]},
         {<<"abc">>, <<"x*">>, [notempty]},
         {<<"abc">>, <<"a*">>, [notempty, global]},
         {<<"abc">>, <<"x*">>, [notempty_atstart, global]},
         {<<"abc">>, <<"b">>, [anchored]},
         {<<"abc">>, <<"b">>, [{offset, 1}, anchored]},
         {<<"abcabc">>, <<"b">>, [{offset, 2}]},
         {<<"abcabc">>, <<"b">>, [{offset, 2}, global]},
         {<<"abcabc">>, <<"^b">>, [{offset, 1}]},
         {<<"abcabc">>, <<"\\Gb">>, [{offset, 1}]},
         {<<"abcabc">>, <<"\\Gb">>, [{offset, 2}]},
         {<<"aaa">>, <<"\\Ga">>, [global]},
         {<<"aab">>, <<"\\Ga">>, [global]},
         {<<"abc">>, <<"\\Ac">>, [{offset, 2}]},
         {<<"abc">>, <<"">>, [{offset, 3}, global]},
         {<<"ab\ncd">>, <<"c">>, [firstline]},
         {<<"ab\ncd">>, <<"b">>, [firstline]},
         {<<"aaa">>, <<"a+">>, [ungreedy]},
         {<<"aaa">>, <<"a+?">>, [ungreedy]},
         {<<"a b">>, <<"a b">>, [extended]},
         {<<"a b">>, <<"a\\ b">>, [extended]},
         {<<"a\nb">>, <<"a.b">>, [dotall]},
         {<<"ab">>, <<"(a)(b)">>, [no_auto_capture]},
         {<<"ab">>, <<"(?<x>a)(b)">>, [no_auto_capture]},
         {<<"abc">>, <<"(a)(x)?(c)?">>, []},
         {<<"ab">>, <<"(a)(x)?(c)?">>, []},
         {<<"ab">>, <<"(a)(x)?(c)?">>, [{capture, all, binary}]},
         {<<"ab">>, <<"(a)(x)?(c)?">>, [{capture, all, list}]},
         {<<"ab">>, <<"(a)(x)?(c)?">>, [{capture, all_but_first, index}]},
         {<<"ab">>, <<"(a)(x)?(c)?">>, [{capture, first, binary}]},
         {<<"ab">>, <<"(a)(x)?(c)?">>, [{capture, none}]},
         {<<"ab">>, <<"(a)(x)?(c)?">>, [{capture, [3, 2, 1, 0, 7], binary}]},
         {<<"ab">>, <<"(?<A>a)(?<Z>x)?(?<M>c)?">>, [{capture, all_names, binary}]},
         {<<"ab">>, <<"(?<A>a)(?<Z>x)?(?<M>c)?">>, [{capture, ['A', "Z", <<"M">>, nope], list}]},
         {<<"ab">>, <<"(?<A>a)(?<Z>x)?(?<M>c)?">>, [global, {capture, all_names, index}]},
         {<<"ab">>, <<"(?<A>a)(?<Z>x)?(?<M>c)?">>, [global, {capture, none}]},
         {<<"ab">>, <<"z">>, [global, {capture, none}]},
         {"abc", "b", []},
         {"abc", "b", [{capture, all, list}]},
         {<<"hé日"/utf8>>, <<"é"/utf8>>, [unicode, {capture, all, list}]},
         {[$h, 233, 26085], [233, $|, 26085], [unicode, global, {capture, all, list}]},
         {[$h, 233, 26085], [233, $|, 26085], [unicode, global, {capture, all, binary}]},
         {[<<"ab">>, $c, [<<"d">>]], <<"bc">>, []},
         {<<"ab">>, "(", []},
         {<<"ab">>, <<"a">>, [bogus]},
         {<<"ab">>, <<"a">>, [{capture, bogus}]},
         {<<"ab">>, <<"a">>, [{offset, -1}]},
         {<<"a\xffb">>, <<"b">>, [unicode]},
         {abc, <<"b">>, []},
         {<<"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!">>, <<"(a+)+b">>, []},
         {<<"xyz">>, <<"(?=(y))">>, [global]},
         {<<"xyz">>, <<"(?!(y))z">>, []},
         {<<"abcd">>, <<"(?<=(b))c">>, []},
         {<<"aaab">>, <<"^(?>a+)b">>, []},
         {<<"aaa">>, <<"^(?>a+)a">>, []},
         {<<"<<a>>">>, <<"<(?:[^<>]+|<[^>]*>)*>">>, [global]},
         {<<"ABab">>, <<"[[:lower:]]+">>, [caseless]},
         {<<"ABab">>, <<"[[:upper:]]+">>, [caseless, global]},
         {<<"ABab">>, <<"\\p{Lu}+">>, [caseless, unicode, global]},
         {<<"ABab">>, <<"[\\p{Lu}]+">>, [caseless, unicode, global]},
         {<<"Kk\x{212a}"/utf8>>, <<"k">>, [caseless, unicode, global]},
         {<<"Ss\x{17f}"/utf8>>, <<"[s]">>, [caseless, unicode, global]},
         {<<"\xb5\x{39c}\x{3bc}"/utf8>>, <<"\\x{b5}">>, [caseless, unicode, global]},
         {<<"\xc9\xe9">>, <<"\xe9">>, [caseless, global]},
         {<<"\xc9\xe9\xff">>, <<"[\xe0-\xff]+">>, [caseless, global]},
         {<<"ÉéŸÿ"/utf8>>, <<"ÿ"/utf8>>, [caseless, unicode, global]},
         {<<"aAbB">>, <<"(a)\\1">>, [caseless]},
         {<<"éÉ"/utf8>>, <<"(é)\\1"/utf8>>, [caseless, unicode]},
         {<<"ab12">>, <<"(?<l>[a-z]+)(?<d>\\d+)">>, [{capture, all_names, list}]},
         {<<"2024-01-15">>, <<"(\\d+)-(\\d+)-(\\d+)">>, [{capture, all_but_first, list}]},
         {<<"foo.bar">>, <<"\\.">>, [global, {capture, first, index}]}],
    [cmp_run(S, P, O) || {S, P, O} <- Cases],
    %% precompiled patterns and inspect
    Pre = [{<<"(?<b>x)(?<a>y)?">>, []}, {<<"a(b)?">>, [caseless]}, {<<"é+"/utf8>>, [unicode]},
           {<<"^\\w+$">>, [multiline, unicode, ucp]}],
    Subs = [<<"xy x xX">>, <<"AB a Ab">>, <<"ééé e"/utf8>>, <<"one\ntwo\nthré"/utf8>>],
    lists:foreach(
      fun({P, O}) ->
              {ok, M1} = re:compile(P, O),
              {ok, M2} = ew_re_under_test:compile(P, O),
              check(io_lib:format("compile shape ~p ~p", [P, O]),
                    {element(1, M1), element(2, M1), element(3, M1), element(4, M1)},
                    {element(1, M2), element(2, M2), element(3, M2), element(4, M2)}),
              check(io_lib:format("inspect ~p", [P]), re:inspect(M1, namelist),
                    ew_re_under_test:inspect(M2, namelist)),
              [check(io_lib:format("precompiled run ~p ~p ~p", [S, P, RO]),
                     outcome(fun() -> re:run(S, M1, RO) end),
                     outcome(fun() -> ew_re_under_test:run(S, M2, RO) end))
               || S <- Subs, RO <- [[], [global], [{capture, all, binary}, {offset, 1}],
                                    [global, {capture, all_names, list}]]]
      end, Pre),
    check("version differs", true, ew_re_under_test:version() =/= re:version()),
    check("version is binary", true, is_binary(ew_re_under_test:version())),
    ok.

%% ------------------------------------------------------------------
%% Unicode sweeps

sample_cps() ->
    [C || C <- lists:seq(0, 16#2FFF) ++ lists:seq(16#3000, 16#FFFF, 7) ++
              lists:seq(16#10000, 16#1FFFF, 61),
          C < 16#D800 orelse C > 16#DFFF].

unicode_sweeps() ->
    Cps = sample_cps(),
    Chunks = chunk(Cps, 3000),
    Pats = [<<"\\p{L}">>, <<"\\p{Lu}">>, <<"\\p{Ll}">>, <<"\\p{Lt}">>, <<"\\p{Lm}">>, <<"\\p{Lo}">>,
            <<"\\p{N}">>, <<"\\p{Nd}">>, <<"\\p{Nl}">>, <<"\\p{No}">>, <<"\\p{P}">>, <<"\\p{Ps}">>,
            <<"\\p{Pe}">>, <<"\\p{Po}">>, <<"\\p{Pd}">>, <<"\\p{S}">>, <<"\\p{Sm}">>, <<"\\p{Sc}">>,
            <<"\\p{Sk}">>, <<"\\p{So}">>, <<"\\p{Z}">>, <<"\\p{Zs}">>, <<"\\p{M}">>, <<"\\p{Mn}">>,
            <<"\\p{C}">>, <<"\\p{Cc}">>, <<"\\p{Cf}">>, <<"\\p{Co}">>, <<"\\p{Cn}">>,
            <<"\\w">>, <<"\\d">>, <<"\\s">>, <<"\\h">>, <<"\\v">>, <<"\\W">>,
            <<"[[:alpha:]]">>, <<"[[:alnum:]]">>, <<"[[:punct:]]">>, <<"[[:graph:]]">>,
            <<"[[:print:]]">>, <<"[[:space:]]">>, <<"[[:upper:]]">>, <<"[[:lower:]]">>,
            <<"[[:cntrl:]]">>, <<"[[:word:]]">>, <<"[[:blank:]]">>, <<"[[:xdigit:]]">>, <<"\\b">>],
    [cmp_sweep(unicode:characters_to_binary(Ch), P, O)
     || Ch <- Chunks, P <- Pats, O <- [[unicode, ucp], [unicode]]],
    %% Latin-1 (non-UTF) tables
    L1 = list_to_binary(lists:seq(0, 255)),
    [cmp_sweep(L1, P, []) || P <- Pats -- [<<"\\p{Lt}">>]],
    [cmp_sweep(L1, P, [caseless]) || P <- [<<"[a-z]">>, <<"[A-Z]">>, <<"[\\xc0-\\xde]">>,
                                          <<"[\\xe0-\\xff]">>, <<"[[:upper:]]">>,
                                          <<"[[:lower:]]">>, <<"\\xb5">>, <<"\\xff">>, <<"k">>]],
    %% case folding: every letter of the sample against the cased part of it
    Cased = [C || C <- Cps, C < 16#2000 orelse (C >= 16#2100 andalso C < 16#2200)
                             orelse (C >= 16#2C00 andalso C < 16#2D30)
                             orelse (C >= 16#A640 andalso C < 16#A800)
                             orelse (C >= 16#FF00 andalso C < 16#FF60)
                             orelse (C >= 16#10400 andalso C < 16#10500)],
    CasedBin = unicode:characters_to_binary(Cased),
    Probe = [C || C <- Cased, (C rem 5 =:= 0 orelse C < 16#250)],
    [cmp_sweep(CasedBin, iolist_to_binary(io_lib:format("\\x{~.16b}", [C])), [caseless, unicode])
     || C <- Probe],
    [cmp_sweep(CasedBin, iolist_to_binary(io_lib:format("[\\x{~.16b}-\\x{~.16b}]", [C, C + 3])),
               [caseless, unicode])
     || C <- Probe, C rem 15 =:= 0],
    ok.

cmp_sweep(Subj, P, O) ->
    A = outcome(fun() -> re:run(Subj, P, [global | O]) end),
    B = outcome(fun() -> ew_re_under_test:run(Subj, P, [global | O]) end),
    Label = io_lib:format("sweep ~p ~p (subject ~b bytes)", [P, O, byte_size(Subj)]),
    case {A, B} of
        {{ok, {match, LA}}, {ok, {match, LB}}} when LA =/= LB ->
            OnlyA = lists:sublist(LA -- LB, 5),
            OnlyB = lists:sublist(LB -- LA, 5),
            Ch = fun(L) -> [[{Pos, char_at(Subj, Pos, O)} || {Pos, _} <- M] || M <- L] end,
            check(Label, {only_otp, Ch(OnlyA)}, {only_ew, Ch(OnlyB)});
        _ -> check(Label, A, B)
    end.

char_at(Subj, Pos, O) ->
    case lists:member(unicode, O) of
        true -> <<_:Pos/binary, C/utf8, _/binary>> = Subj, {hex, integer_to_list(C, 16)};
        false -> binary:at(Subj, Pos)
    end.

chunk([], _) -> [];
chunk(L, N) when length(L) =< N -> [L];
chunk(L, N) ->
    {A, B} = lists:split(N, L),
    [A | chunk(B, N)].

%% ------------------------------------------------------------------
%% compile outcomes

compile_cases() ->
    %% errors whose message and offset must agree exactly
    Exact = [<<"(a">>, <<"a)">>, <<"[a">>, <<"a{2,1}">>, <<"*a">>, <<"a**">>, <<"\\">>,
             <<"(?<n>a)(?<n>b)">>, <<"\\k<zz>">>, <<"(?<=a+)b">>, <<"\\p{Foo}">>, <<"[z-a]">>,
             <<"(a)\\2">>, <<"\\7">>, <<"+">>, <<"?">>, <<"a|*">>, <<"((a)">>, <<"(?<=a|bc*)">>,
             <<"[[:foo:]]">>, <<"a{99999}">>, <<"\\g{0}">>, <<"(?P=zz)">>, <<"\\ca\\c">>],
    [cmp_compile(P, [], exact) || P <- Exact],
    %% unsupported or erroneous: both must fail (messages may differ)
    Fail = [<<"(?P>n)">>, <<"(?R)">>, <<"(?1)">>, <<"(*UTF8)a">>, <<"(?|a)">>,
            <<"a(?#x">>, <<"\\L">>, <<"\\u">>, <<"\\i">>, <<"(?z)">>, <<"[[.a.]]">>,
            <<"(?(1)a|b|c)">>, <<"(?<1a>x)">>, <<"\\x{110000}">>],
    [cmp_compile(P, [unicode], fails) || P <- Fail],
    %% must compile, with the same group count and flags
    Ok = [<<"(?#comment)a">>, <<"\\8">>, <<"\\9">>, <<"\\10">>, <<"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10">>,
          <<"[\\8]">>, <<"a{,3}">>, <<"x{">>, <<"x{1">>, <<"x{1,">>, <<"{">>, <<"}">>, <<"]">>,
          <<"(?<n>a)(?'m'b)(?P<o>c)">>, <<"(?:(a)|b)(c)">>, <<"\\Q(\\E">>, <<"[\\]]">>],
    [cmp_compile(P, O, shape) || P <- Ok, O <- [[], [unicode], [unicode, ucp]]],
    [check(io_lib:format("compile ~p ~p", [P, O]),
           outcome(fun() -> re:compile(P, O) end) =/= {error, badarg},
           outcome(fun() -> ew_re_under_test:compile(P, O) end) =/= {error, badarg})
     || {P, O} <- [{<<"a">>, [bogus]}, {abc, []}, {<<"a">>, [{newline, nope}]}]],
    ok.

cmp_compile(P, O, Mode) ->
    A = outcome(fun() -> re:compile(P, O) end),
    B = outcome(fun() -> ew_re_under_test:compile(P, O) end),
    Label = io_lib:format("compile(~p, ~p)", [P, O]),
    case Mode of
        exact -> check(Label, A, B);
        fails -> check(Label, kind(A), kind(B));
        shape -> check(Label, shape(A), shape(B))
    end.

kind({ok, {error, _}}) -> error;
kind({ok, {ok, _}}) -> ok;
kind(Other) -> Other.

shape({ok, {ok, {re_pattern, N, U, Ucp, _}}}) -> {N, U, Ucp};
shape(X) -> X.

%% ------------------------------------------------------------------
%% replace / split

replace_split_cases() ->
    R = [{"abc", "b", "[&]", []},
         {"abc", "x", "[&]", []},
         {"abcb", "b", "[\\0]", [global]},
         {"abc", "b", "\\\\x", [{return, list}]},
         {"abc", "b", "\\x", [{return, list}]},
         {"abc", "b", "\\&\\\\", [{return, list}]},
         {"abc", "(b)", "\\1\\g1\\g{1}\\0&\\9", [{return, list}]},
         {"abcbd", "b", "", [global, {return, list}]},
         {"abc", "", "-", [global, {return, list}]},
         {"abc", "x*", "-", [global, {return, binary}]},
         {"abc", "b", "-", [{offset, 2}, {return, list}]},
         {"abcb", "b", "-", [{offset, 2}, {return, list}]},
         {<<"abc">>, "b", "-", []},
         {<<"abc">>, "x", "-", []},
         {<<"abc">>, "b", <<"-">>, [{return, binary}]},
         {"abc", "(b)", "\\10", [{return, list}]},
         {"abc", "(b)", "\\", [{return, list}]},
         {<<"2024-01-15">>, <<"(\\d+)-(\\d+)-(\\d+)">>, <<"\\3/\\2/\\1">>, [{return, binary}]},
         {<<"héllo wörld"/utf8>>, <<"ö|é"/utf8>>, <<"[&]">>, [unicode, global, {return, binary}]},
         {"héllo wörld", "ö|é", "[&]", [unicode, global, {return, list}]},
         {<<"aaa">>, <<"a">>, <<"bb">>, [global, {return, binary}]},
         {<<"a.b.c">>, <<"\\.">>, <<"\\\\.">>, [global, {return, binary}]},
         {<<"Hello World">>, <<"(?i)o">>, <<"0">>, [global, {return, list}]},
         {<<"x">>, <<"(a)|x">>, <<"<\\1>">>, [{return, binary}]},
         {<<"ab\ncd">>, <<"^">>, <<">">>, [global, multiline, {return, binary}]},
         {<<"abc">>, <<"b">>, <<"x">>, [{capture, all}]}],
    [check(io_lib:format("re:replace(~p, ~p, ~p, ~p)", [S, P, Rp, O]),
           norm_io(O, outcome(fun() -> re:replace(S, P, Rp, O) end)),
           norm_io(O, outcome(fun() -> ew_re_under_test:replace(S, P, Rp, O) end)))
     || {S, P, Rp, O} <- R],
    Sp = [{"abc", "", []}, {"abc", "", [trim]}, {",a,,b,,", ",", []}, {",a,,b,,", ",", [trim]},
          {",a,,b,,", ",", [{parts, 2}]}, {",a,,b,,", ",", [{parts, 0}]},
          {",a,,b,,", ",", [{parts, 10}]}, {"a1b2c", "(\\d)|(x)", []},
          {"a1b2c", "(x)|(\\d)", [group]}, {"a1b2c", "\\d", [{offset, 2}]}, {"abc", "x", []},
          {"", "x", []}, {"", ",", [trim]}, {"", "x*", [trim]}, {"", "x*", []}, {",,", ",", [trim]},
          {",,", ",", [trim, group]}, {",,", "(,)", [trim, group]}, {"a,b", "(,)", [group]},
          {<<"a,b">>, ",", []}, {"abc", "b*", []}, {"abc", "b*", [{parts, 2}]},
          {"abc", "", [{parts, 2}]}, {"abc", "x*", [{offset, 1}]}, {"abc", "(?=b)", []},
          {"abc", "", [{parts, 1}]}, {"a,b", ",", [{parts, 1}]}, {"a,b,", ",", [{parts, 3}]},
          {",a", ",", [trim]}, {"ab", "(a)|(x)", [trim]}, {"ab", "(b)|(x)", [trim]},
          {<<"one  two   three">>, <<"\\s+">>, []}, {<<" one two ">>, <<"\\s+">>, [trim]},
          {<<"a1b2c3">>, <<"\\d">>, [{parts, 2}]}, {<<"héllo wörld"/utf8>>, <<"[éö]"/utf8>>, [unicode]},
          {"héllo wörld", "[éö]", [unicode]}, {<<"a\r\nb\r\nc">>, <<"\\R">>, []},
          {<<"abc">>, <<"">>, [group]}, {<<"abc">>, <<"b">>, [global]},
          {<<"key=value; k2=v2">>, <<"\\s*;\\s*|=">>, [{parts, 3}]}],
    [check(io_lib:format("re:split(~p, ~p, ~p)", [S, P, O ++ [{return, Ret}]]),
           outcome(fun() -> re:split(S, P, O ++ [{return, Ret}]) end),
           outcome(fun() -> ew_re_under_test:split(S, P, O ++ [{return, Ret}]) end))
     || {S, P, O} <- Sp, Ret <- [list, binary, iodata]],
    ok.

norm_io(O, {ok, V}) ->
    case lists:keyfind(return, 1, O) of
        false -> {ok, iolist_to_binary(V)};
        {return, iodata} -> {ok, iolist_to_binary(V)};
        _ -> {ok, V}
    end;
norm_io(_, E) -> E.

%% ------------------------------------------------------------------
%% seeded random patterns

random_cases() ->
    rand:seed(exsss, {20240601, 7, 13}),
    Subjects = [<<"abcabcab">>, <<"aab bba ab">>, <<"xaybzc">>, <<"a1b2 c3">>, <<"ab\nba\n">>,
                <<"AbCaBc">>, <<>>],
    [begin
         P = iolist_to_binary(rnd_alt(3)),
         S = lists:nth(rand:uniform(length(Subjects)), Subjects),
         O = lists:nth(rand:uniform(6), [[], [global], [caseless, global], [multiline, global],
                                          [global, {capture, all, binary}], [ungreedy, global]]),
         cmp_run(S, P, O)
     end || _ <- lists:seq(1, 3000)],
    ok.

rnd_alt(0) -> rnd_atom(0);
rnd_alt(D) ->
    case rand:uniform(5) of
        1 -> [rnd_seq(D), "|", rnd_seq(D)];
        _ -> rnd_seq(D)
    end.

rnd_seq(D) -> [rnd_quant(D) || _ <- lists:seq(1, rand:uniform(4))].

%% Lookarounds are never quantified here: PCRE's handling of quantified
%% assertions has corner cases this engine does not reproduce.
rnd_quant(D) ->
    A = rnd_atom(D),
    case is_look(A) orelse rand:uniform(9) > 6 of
        true -> A;
        false -> quantify(A)
    end.

is_look(A) ->
    case iolist_to_binary(A) of
        <<"(?", C, _/binary>> -> C =:= $= orelse C =:= $! orelse C =:= $<;
        _ -> false
    end.

quantify(A) ->
    case rand:uniform(6) of
        1 -> [A, "*"];
        2 -> [A, "+"];
        3 -> [A, "?"];
        4 -> [A, "*?"];
        5 -> [A, "{1,2}"];
        6 -> [A, "++"]
    end.

rnd_atom(D) ->
    case rand:uniform(case D of 0 -> 9; _ -> 16 end) of
        1 -> "a";
        2 -> "b";
        3 -> "c";
        4 -> ".";
        5 -> "[ab]";
        6 -> "\\w";
        7 -> "\\b";
        8 -> "^";
        9 -> "$";
        10 -> ["(", rnd_alt(D - 1), ")"];
        11 -> ["(?:", rnd_alt(D - 1), ")"];
        12 -> [["(?=", rnd_alt(D - 1), ")"]];
        13 -> [["(?!", rnd_alt(D - 1), ")"]];
        14 -> ["(?>", rnd_alt(D - 1), ")"];
        15 when D =:= 3 -> "\\1";   % top level only: no self-references
        15 -> "a";
        16 -> [["(?<=", lists:nth(rand:uniform(3), ["a", "b|c", "ab"]), ")"]]
    end.

%% ------------------------------------------------------------------
%% Elixir: Regex and String doctests and extra expressions

elixir_cases() ->
    case find_elixir() of
        false -> io:format("re_diff: elixir not found, Elixir cases skipped~n");
        Ebin ->
            code:add_patha(Ebin),
            {ok, _} = application:ensure_all_started(elixir),
            redirect('Elixir.Regex', 'Elixir.RegexUnderTest',
                     #{re => ew_re_under_test}),
            redirect('Elixir.String', 'Elixir.StringUnderTest',
                     #{'Elixir.Regex' => 'Elixir.RegexUnderTest'}),
            Blocks = doc_blocks('Elixir.Regex') ++ doc_blocks('Elixir.String') ++ extra_blocks(),
            [eval_block(B) || B <- Blocks],
            ok
    end.

find_elixir() ->
    Cands = ["/usr/lib/elixir/lib/elixir/ebin", "/usr/local/lib/elixir/lib/elixir/ebin"],
    case [D || D <- Cands, filelib:is_file(filename:join(D, "Elixir.Regex.beam"))] of
        [D | _] -> D;
        [] ->
            case os:find_executable("elixir") of
                false -> false;
                _ ->
                    Out = os:cmd("elixir -e 'IO.write(:code.lib_dir(:elixir))' 2>/dev/null"),
                    D = filename:join(string:trim(Out), "ebin"),
                    case filelib:is_file(filename:join(D, "Elixir.Regex.beam")) of
                        true -> D;
                        false -> false
                    end
            end
    end.

%% recompile Mod as NewMod from its debug info, redirecting remote calls
redirect(Mod, NewMod, Map) ->
    {ok, {_, [{abstract_code, {raw_abstract_v1, Forms}}]}} =
        beam_lib:chunks(code:which(Mod), [abstract_code]),
    Forms2 = [rename_form(F, Mod, NewMod, Map) || F <- Forms],
    {ok, NewMod, Bin} = compile:forms(Forms2, [binary, return_errors, nowarn_unused_vars]),
    {module, NewMod} = code:load_binary(NewMod, atom_to_list(NewMod) ++ ".beam", Bin).

rename_form({attribute, A, module, Mod}, Mod, NewMod, _) -> {attribute, A, module, NewMod};
rename_form(F, _, _, Map) -> walk(F, Map).

walk({remote, A, {atom, A2, M}, F}, Map) when is_map_key(M, Map) ->
    {remote, A, {atom, A2, maps:get(M, Map)}, walk(F, Map)};
walk(T, Map) when is_tuple(T) -> list_to_tuple([walk(E, Map) || E <- tuple_to_list(T)]);
walk(L, Map) when is_list(L) -> [walk(E, Map) || E <- L];
walk(X, _) -> X.

doc_blocks(Mod) ->
    {docs_v1, _, _, _, _, _, Docs} = 'Elixir.Code':fetch_docs(Mod),
    lists:flatmap(
      fun({{_, Name, Arity}, _, _, #{<<"en">> := Text}, _}) ->
              Exprs = iex_exprs(binary:split(Text, <<"\n">>, [global]), [], []),
              Uses = [E || E <- Exprs, binary:match(E, [<<"~r">>, <<"Regex.">>]) =/= nomatch],
              case Uses of
                  [] -> [];
                  _ -> [{io_lib:format("~s.~s/~b doctest", [Mod, Name, Arity]), Exprs}]
              end;
         (_) -> []
      end, Docs).

%% collect "iex> " expressions (with "...> " continuations)
iex_exprs([], Cur, Acc) -> lists:reverse(flush(Cur, Acc));
iex_exprs([L | T], Cur, Acc) ->
    S = string:trim(L, leading),
    case S of
        <<"iex> ", E/binary>> -> iex_exprs(T, [E], flush(Cur, Acc));
        <<"iex>", E/binary>> when Cur =:= [] -> iex_exprs(T, [E], Acc);
        <<"...> ", E/binary>> when Cur =/= [] -> iex_exprs(T, [E | Cur], Acc);
        <<"...>", E/binary>> when Cur =/= [] -> iex_exprs(T, [E | Cur], Acc);
        _ -> iex_exprs(T, [], flush(Cur, Acc))
    end.

flush([], Acc) -> Acc;
flush(Cur, Acc) -> [iolist_to_binary(lists:join(<<"\n">>, lists:reverse(Cur))) | Acc].

under_test(Src) ->
    S1 = re:replace(Src, <<"\\bRegex\\.(?=[a-z])">>, <<"RegexUnderTest.">>, [global, {return, binary}]),
    re:replace(S1, <<"\\bString\\.(?=[a-z])">>, <<"StringUnderTest.">>, [global, {return, binary}]).

eval_block({Label, Exprs}) ->
    case os:getenv("RE_DIFF_TRACE") of
        false -> ok;
        _ -> io:format("~s~n", [Label])
    end,
    lists:foldl(
      fun(E, {BA, BB}) ->
              case os:getenv("RE_DIFF_TRACE") of
                  false -> ok;
                  _ -> io:format("  ~ts~n", [E])
              end,
              {RA, BA2} = eval(E, BA),
              {RB, BB2} = eval(under_test(E), BB),
              check(io_lib:format("~s: ~ts", [Label, E]), norm(RA), norm(RB)),
              {BA2, BB2}
      end, {[], []}, Exprs),
    ok.

eval(Src, Binding) ->
    try 'Elixir.Code':eval_string(Src, Binding) of
        {V, B2} -> {{ok, V}, B2}
    catch
        error:R -> {{error, exc(R)}, Binding};
        C:R -> {{C, R}, Binding}
    end.

exc(#{'__struct__' := M, message := Msg}) -> {M, Msg};
exc(#{'__struct__' := M}) -> M;
exc(R) -> R.

%% a %Regex{} carries engine-specific bytes: compare by source and options
norm(#{'__struct__' := 'Elixir.Regex', source := S, opts := O}) -> {regex, S, O};
norm(M) when is_map(M) -> maps:from_list([{norm(K), norm(V)} || {K, V} <- maps:to_list(M)]);
norm(T) when is_tuple(T) -> list_to_tuple([norm(E) || E <- tuple_to_list(T)]);
norm(R) when is_reference(R) -> reference;
norm(L) when is_list(L) -> norm_list(L);
norm(X) -> X.

norm_list([H | T]) -> [norm(H) | norm_list(T)];
norm_list([]) -> [];
norm_list(X) -> norm(X).

extra_blocks() ->
    E = [
         <<"Regex.run(~r/c(d)/, \"abcd\")">>,
         <<"Regex.run(~r/e/, \"abcd\")">>,
         <<"Regex.run(~r/c(d)?/, \"abc\")">>,
         <<"Regex.run(~r/(x)?c/, \"abc\", return: :index)">>,
         <<"Regex.run(~r/(?<year>\\d{4})-(?<m>\\d\\d)/, \"on 2024-05 ok\", capture: :all_names)">>,
         <<"Regex.run(~r/(?<year>\\d{4})-(?<m>\\d\\d)/, \"on 2024-05 ok\", capture: [\"m\"])">>,
         <<"Regex.run(~r/b/, \"abcb\", offset: 2, return: :index)">>,
         <<"Regex.run(~r/\\p{Lu}\\w+/u, \"élan Ärger\")">>,
         <<"Regex.run(~r/ärger/iu, \"élan Ärger\")">>,
         <<"Regex.run(~r/^b$/m, \"a\\nb\\nc\")">>,
         <<"Regex.run(~r/a.c/s, \"a\\nc\")">>,
         <<"Regex.run(~r/a+/U, \"aaa\")">>,
         <<"Regex.run(~r/ a  b # c\n/x, \"ab\")">>,
         <<"Regex.run(~r/^b/f, \"a\\nb\")">>,
         <<"Regex.scan(~r/\\d+/, \"a1b22c333\")">>,
         <<"Regex.scan(~r/(\\w)(\\d)?/, \"a1b c3\")">>,
         <<"Regex.scan(~r/x*/, \"abc\")">>,
         <<"Regex.scan(~r/(?<l>[a-z])/, \"ab\", capture: :all_names)">>,
         <<"Regex.scan(~r/é/u, \"éée\", return: :index)">>,
         <<"Regex.scan(~r/[[:alpha:]]+/u, \"héllo wörld 42\")">>,
         <<"Regex.scan(~r/\\w+/u, \"héllo wörld\")">>,
         <<"Regex.scan(~r/./su, \"a\\r\\nb\")">>,
         <<"Regex.split(~r/-/, \"a-b-c\")">>,
         <<"Regex.split(~r/-/, \"a-b-c\", parts: 2)">>,
         <<"Regex.split(~r/-/, \"-a-b-\", trim: true)">>,
         <<"Regex.split(~r/-/, \"-a-b-\")">>,
         <<"Regex.split(~r//, \"abc\")">>,
         <<"Regex.split(~r//, \"abc\", trim: true)">>,
         <<"Regex.split(~r/x*/, \"abc\")">>,
         <<"Regex.split(~r/(-)/, \"a-b-c\", include_captures: true)">>,
         <<"Regex.split(~r/-/, \"a-b-c\", include_captures: true, parts: 2)">>,
         <<"Regex.split(~r/(?<d>\\d)/, \"a1b2c\", on: [:d])">>,
         <<"Regex.split(~r/\\s*,\\s*/, \"a , b,c ,d\")">>,
         <<"Regex.split(~r/\\s+/, \"\")">>,
         <<"Regex.split(~r/\\s+/, \"\", trim: true)">>,
         <<"Regex.replace(~r/d/, \"abc\", \"d\")">>,
         <<"Regex.replace(~r/b/, \"abcbe\", \"d\")">>,
         <<"Regex.replace(~r/b/, \"abcbe\", \"d\", global: false)">>,
         <<"Regex.replace(~r/(b)(c)?/, \"abcbe\", \"[\\\\2\\\\1\\\\0]\")">>,
         <<"Regex.replace(~r/(b)/, \"abcbe\", \"[\\\\g{1}x]\")">>,
         <<"Regex.replace(~r/(?<x>b)/, \"abcbe\", fn whole, x -> String.upcase(whole <> x) end)">>,
         <<"Regex.replace(~r/(a)|(b)/, \"ab\", fn _, a, b -> \"<\" <> a <> \"|\" <> b <> \">\" end)">>,
         <<"Regex.replace(~r/\\d+/, \"a1b22\", &(&1 <> &1))">>,
         <<"Regex.replace(~r/^/m, \"a\\nb\", \"> \")">>,
         <<"Regex.replace(~r/é/u, \"café é\", \"e\")">>,
         <<"Regex.replace(~r//, \"abc\", \"-\")">>,
         <<"Regex.replace(~r/\\s+/, \"  a  b  \", \" \")">>,
         <<"Regex.named_captures(~r/c(?<foo>d)/, \"abcd\")">>,
         <<"Regex.named_captures(~r/a(?<foo>b)c(?<bar>d)/, \"abcd\")">>,
         <<"Regex.named_captures(~r/a(?<foo>b)c(?<bar>d)?/, \"abc\")">>,
         <<"Regex.named_captures(~r/a(?<foo>b)c(?<bar>d)/, \"efgh\")">>,
         <<"Regex.names(~r/(?<foo>bar)(?<baz>x)/)">>,
         <<"Regex.match?(~r/foo/, \"foo\")">>,
         <<"Regex.match?(~r/^foo$/i, \"FOO\")">>,
         <<"Regex.match?(~r/\\A\\p{Lu}/u, \"Élan\")">>,
         <<"{:ok, r} = Regex.compile(\"a(b)?\", \"i\"); {Regex.run(r, \"xAB\"), Regex.names(r)}">>,
         <<"{:ok, r} = Regex.compile(\"(?<n>a)\"); {Regex.named_captures(r, \"a\"), Regex.names(r), Regex.split(r, \"bab\")}">>,
         <<"Regex.compile(\"*foo\")">>,
         <<"Regex.compile(\"(a\")">>,
         <<"Regex.compile(\"foo\", \"y\")">>,
         <<"r = Regex.compile!(\"x+\", \"u\"); Regex.scan(r, \"xxaxx\", return: :index)">>,
         <<"Regex.recompile!(~r/a(b)/) |> Regex.run(\"zab\")">>,
         <<"String.split(\"a,b,,c\", ~r/,/)">>,
         <<"String.split(\"a,b,,c\", ~r/,/, trim: true)">>,
         <<"String.split(\"a,b,,c\", ~r/,/, parts: 2)">>,
         <<"String.split(\" a b  c \", ~r/\\s+/, trim: true)">>,
         <<"String.split(\"abc\", ~r//)">>,
         <<"String.split(\"abc\", ~r//, trim: true)">>,
         <<"String.split(\"abc\", ~r{b})">>,
         <<"String.split(\"héllo wörld\", ~r/[éö]/u)">>,
         <<"String.split(\"a1b2c3\", ~r/\\d/, include_captures: true, trim: true)">>,
         <<"String.replace(\"a,b,c\", ~r/,/, \";\")">>,
         <<"String.replace(\"a,b,c\", ~r/,/, \";\", global: false)">>,
         <<"String.replace(\"abc\", ~r/(b)/, \"[\\\\1]\")">>,
         <<"String.replace(\"abc\", ~r/b/, fn m -> m <> m end)">>,
         <<"String.replace(\"hello world\", ~r/o/, \"0\")">>,
         <<"String.replace(\"  trim me  \", ~r/^\\s+|\\s+$/, \"\")">>,
         <<"String.match?(\"foo\", ~r/o+/)">>,
         <<"String.match?(\"foo\", ~r/x/)">>,
         <<"String.match?(\"FÖÖ\", ~r/föö/iu)">>,
         <<"Regex.run(~r/(\\d+)\\.(\\d+)/, \"v 12.34\", capture: :all_but_first)">>,
         <<"Regex.run(~r/a/, \"bab\", capture: :first, return: :index)">>,
         <<"Regex.run(~r/(a)/, \"bab\", capture: :none)">>,
         <<"Regex.scan(~r/(a)|(b)/, \"ab\", capture: :all_but_first)">>,
         <<"Regex.run(~r/[[:^alpha:]]+/, \"abc123def\")">>,
         <<"Regex.run(~r/(?i)straße/u, \"STRASSE Straße\")">>,
         <<"Regex.scan(~r/\\bcat\\b/, \"cat concat cat.\", return: :index)">>,
         <<"Regex.replace(~r/(\\w+)@(\\w+)\\.com/, \"joe@example.com, ann@corp.com\", \"\\\\2:\\\\1\")">>,
         <<"Regex.scan(~r/(?<=\\$)\\d+(?:\\.\\d\\d)?/, \"$12.50 and $3\")">>,
         <<"Regex.split(~r/(?=[A-Z])/, \"HelloWorldFooBar\")">>,
         <<"Regex.split(~r/(?=[A-Z])/, \"HelloWorldFooBar\", trim: true)">>,
         <<"Regex.replace(~r/(?<!\\d)(\\d)(?!\\d)/, \"1 22 3\", \"0\\\\1\")">>
        ],
    [{"extra Elixir expression", [X]} || X <- E].
