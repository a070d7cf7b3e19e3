%% Run with `erl -noshell -eval`: an MD5 of unicode_util's answers over
%% every code point (lookup/1, get_case/1), every code point of the first
%% three planes in a short string (the normalisation and case functions),
%% and base letters with combining marks (composition), then the file the
%% module came from. With a directory after -extra, the unicode_util and
%% ew_unicode there are loaded first.
case init:get_plain_arguments() of
    [Dir] -> [begin code:purge(M), code:delete(M), code:purge(M), {module, M} = code:load_abs(filename:join(Dir, atom_to_list(M))) end || M <- [unicode_util, ew_unicode]];
    [] -> ok
end,
Add = fun(Ctx, X) -> erlang:md5_update(Ctx, term_to_binary(X)) end,
All = lists:seq(0, 16#10FFFF),
Low = lists:seq(0, 16#2FFFF),
C1 = lists:foldl(fun(C, Ctx) -> Add(Add(Ctx, unicode_util:lookup(C)), unicode_util:get_case(C)) end, erlang:md5_init(), All),
C2 = lists:foldl(fun(C, Ctx) -> S = [C, $a, C], lists:foldl(fun(F, X) -> Add(X, unicode_util:F(S)) end, Ctx, [nfd, nfc, nfkd, nfkc, uppercase, lowercase, titlecase, casefold]) end, C1, Low),
Bases = lists:seq(0, 16#24F) ++ lists:seq(16#370, 16#4FF) ++ lists:seq(16#1E00, 16#1FFF) ++ lists:seq(16#3040, 16#30FF) ++ lists:seq(16#1100, 16#1112),
Marks = lists:seq(16#300, 16#36F) ++ [16#3099, 16#309A, 16#1B35, 16#0F71, 16#0F72, 16#1161, 16#11A8],
C3 = lists:foldl(fun(B, Ctx) -> lists:foldl(fun(M, X) -> Add(X, unicode_util:nfc([B, M, M])) end, Ctx, Marks) end, C2, Bases),
io:format("~s ~s~n", [binary:encode_hex(erlang:md5_final(C3)), code:which(unicode_util)]),
halt().
